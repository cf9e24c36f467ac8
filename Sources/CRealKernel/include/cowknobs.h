/* The Swift side's guard of the machine-wide knobs the real backend's tiers change
 * (KSM, nr_hugepages): the originals, recorded once per process before the first tier
 * op, are written back when the helper dies, at exit and on SIGINT/SIGTERM/SIGHUP.
 * In C because the signal path must be async-signal-safe. Not part of the helper. */
#ifndef COWKNOBS_H
#define COWKNOBS_H

#define CF_KNOBS_MAX 8

/* Records the current value of each of the n paths (n <= CF_KNOBS_MAX), writes the
 * journal (when journal is not NULL) and arms the exit and signal hooks. The first path
 * is treated as a "run" switch: it is set to "0" first and restored last. Returns the
 * number of knobs recorded, or -1 when the journal could not be written. Recording
 * again is a no-op. */
int cf_knobs_record(const char *const *paths, int n, const char *journal);

/* Writes every recorded original back (async-signal-safe: open, write, close). Keeps
 * the record, so it can run again; removes the journal when final is nonzero. */
void cf_knobs_restore(int final);

/* Whether knobs are recorded in this process. */
int cf_knobs_recorded(void);

#endif
