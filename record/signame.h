/*
 * signame.h - a signal from its name or number, as --toggle-signal and
 * HEAPTAPE_TOGGLE_SIGNAL take it: USR2, SIGUSR2, usr2, 12, RTMIN+N.
 * One parser for the launcher (which refuses what it does not take) and
 * the preload library (which then records without a toggle).
 */
#ifndef HT_SIGNAME_H
#define HT_SIGNAME_H

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The signal s names, or -1 if it names none a program can catch. */
static inline int ht__signal_of(const char *s)
{
	char *end;
	long v;

	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	if (!strncasecmp(s, "RTMIN+", 6)) {
		v = strtol(s + 6, &end, 10);
		v = *end || end == s + 6 || v < 0 ? -1 : SIGRTMIN + v;
	} else if (*s >= '0' && *s <= '9') {
		v = strtol(s, &end, 10);
		if (*end)
			v = -1;
	} else {
		v = -1;
		for (int i = 1; i < NSIG; i++) {
			const char *ab = sigabbrev_np(i);

			if (ab && !strcasecmp(s, ab)) {
				v = i;
				break;
			}
		}
	}
	if (v <= 0 || v >= NSIG || v == SIGKILL || v == SIGSTOP)
		return -1;
	return (int)v;
}

#endif
