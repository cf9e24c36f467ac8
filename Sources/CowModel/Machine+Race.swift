/// Races: two or more ops of different processes whose kernel paths interleave.
extension Machine {
    mutating func race(_ lanes: [Op], _ schedule: [UInt8]) -> OpStatus { .skipped(.notSupportedYet) }
}
