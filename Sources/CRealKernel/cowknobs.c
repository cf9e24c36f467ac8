#define _GNU_SOURCE 1
#include "cowknobs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char kn_path[CF_KNOBS_MAX][128];
static char kn_value[CF_KNOBS_MAX][64];
static int kn_count = -1;
static char kn_journal[512];
static struct sigaction kn_old[65];

static void kn_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) return;
	ssize_t r = write(fd, value, strlen(value));
	(void)r;
	close(fd);
}

int cf_knobs_recorded(void) { return kn_count >= 0; }

void cf_knobs_restore(int final)
{
	int saved = errno;
	if (kn_count > 0) {
		/* The run switch off first (ksmd stops scanning), the rest, the switch last. */
		if (kn_value[0][0]) kn_write(kn_path[0], "0");
		for (int k = 1; k < kn_count; k++)
			if (kn_value[k][0]) kn_write(kn_path[k], kn_value[k]);
		if (kn_value[0][0]) kn_write(kn_path[0], kn_value[0]);
	}
	if (final && kn_journal[0]) unlink(kn_journal);
	errno = saved;
}

static void kn_at_exit(void) { cf_knobs_restore(1); }

static void kn_on_signal(int sig)
{
	cf_knobs_restore(1);
	sigaction(sig, &kn_old[sig], NULL);
	raise(sig);
}

static void kn_arm(int sig)
{
	struct sigaction cur;
	if (sigaction(sig, NULL, &cur)) return;
	/* Someone else handles it (SIG_IGN plus a dispatch source, or a handler): the
	 * process then exits normally and the exit hook restores. */
	if (cur.sa_handler != SIG_DFL || (cur.sa_flags & SA_SIGINFO)) return;
	kn_old[sig] = cur;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = kn_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

int cf_knobs_record(const char *const *paths, int n, const char *journal)
{
	if (kn_count >= 0) return kn_count;
	if (n > CF_KNOBS_MAX) n = CF_KNOBS_MAX;
	for (int k = 0; k < n; k++) {
		snprintf(kn_path[k], sizeof kn_path[k], "%s", paths[k]);
		kn_value[k][0] = 0;
		FILE *f = fopen(paths[k], "re");
		if (!f) continue;
		if (fgets(kn_value[k], sizeof kn_value[k], f)) kn_value[k][strcspn(kn_value[k], "\n")] = 0;
		fclose(f);
	}
	kn_count = n;
	int rc = n;
	if (journal && *journal) {
		char tmp[600];
		snprintf(kn_journal, sizeof kn_journal, "%s", journal);
		snprintf(tmp, sizeof tmp, "%s.tmp%d", journal, (int)getpid());
		FILE *f = fopen(tmp, "we");
		if (f) {
			fprintf(f, "cowfuzz-knobs 1\npid %d\n", (int)getpid());
			for (int k = 0; k < n; k++)
				if (kn_value[k][0]) fprintf(f, "%s %s\n", kn_path[k], kn_value[k]);
			if (fflush(f) || fsync(fileno(f))) rc = -1;
			if (fclose(f)) rc = -1;
			if (rc >= 0 && rename(tmp, journal)) rc = -1;
			if (rc < 0) unlink(tmp);
		} else {
			rc = -1;
		}
		if (rc < 0) kn_journal[0] = 0;
	}
	atexit(kn_at_exit);
	kn_arm(SIGINT);
	kn_arm(SIGTERM);
	kn_arm(SIGHUP);
	return rc;
}
