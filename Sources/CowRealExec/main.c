/* CowRealExec: the helper process of the real-kernel backend.
 * The Swift side (CowReal) spawns it and speaks the protocol described in cowreal.c;
 * keeping the forks in a plain C process keeps them out of the multi-threaded Swift one. */
#include "cowreal.h"

int main(int argc, char **argv) { return cf_server_main(argc, argv); }
