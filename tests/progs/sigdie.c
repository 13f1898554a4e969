/*
 * sigdie: dies of a signal, or looks at signal dispositions, for the
 * recorder's death-by-signal tests.  Every mode first makes N mallocs of
 * 12345 bytes (kept), so a trace can be checked for all of them.
 *
 *   sigdie segv N      a NULL store: SIGSEGV
 *   sigdie thread N    the N mallocs and the SIGSEGV on a second thread
 *                      while the main thread allocates
 *   sigdie term N      kill(getpid(), SIGTERM)
 *   sigdie pipe N      write to a pipe with no reader: SIGPIPE
 *   sigdie view N      what the program sees of its dispositions; exits 0
 *   sigdie recover N   a SIGSEGV handler of its own that siglongjmps out,
 *                      then N more mallocs; exits 0
 *   sigdie oneshot N   a one-shot SIGTERM handler (SA_RESETHAND, as node's)
 *                      that says what it sees and raises SIGTERM again
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

void *volatile sink;
static int volatile *volatile nowhere;
static long n;
static sigjmp_buf back;
static volatile sig_atomic_t got;

static void allocs(void)
{
	for (long i = 0; i < n; i++)
		sink = malloc(12345);
}

static void *crasher(void *arg)
{
	(void)arg;
	allocs();
	*nowhere = 1;
	return NULL;
}

static void on_usr1(int sig)
{
	got = sig;
}

static void on_term_once(int sig)
{
	struct sigaction o;
	static const char dfl[] = "handler: SIGTERM is SIG_DFL now\n",
			  other[] = "handler: SIGTERM is not SIG_DFL\n";

	sigaction(SIGTERM, NULL, &o);
	if (o.sa_handler == SIG_DFL)
		write(1, dfl, sizeof(dfl) - 1);
	else
		write(1, other, sizeof(other) - 1);
	raise(sig);
}

static int alarm_pipe[2];
static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	if (++alarms == 3)
		close(alarm_pipe[1]);
}

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(back, 1);
}

/* Sets sig's handler h with flags, and reads back into *o what is set. */
static void set_get(int sig, void (*h)(int), int flags, struct sigaction *o)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigaction(sig, &sa, NULL);
	sigaction(sig, NULL, o);
}

static const char *name(void (*h)(int))
{
	return h == SIG_DFL ? "SIG_DFL" : h == SIG_IGN ? "SIG_IGN" :
	       h == on_usr1 ? "on_usr1" : "other";
}

static int view(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGSEGV, SIGPIPE,
				    SIGHUP };
	struct sigaction sa, o;
	int p[2];

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], NULL, &o);
		printf("%s: %s flags %#x\n", strsignal(sigs[i]),
		       name(o.sa_handler), (unsigned)(o.sa_flags & SA_SIGINFO));
	}
	/* SIG_DFL set and read back with the flags given */
	set_get(SIGTERM, SIG_DFL, SA_RESTART, &o);
	printf("SIGTERM after SIG_DFL: %s SA_RESTART %d\n",
	       name(o.sa_handler), !!(o.sa_flags & SA_RESTART));
	printf("signal(SIGINT, SIG_DFL) was %s\n",
	       name(signal(SIGINT, SIG_DFL)));
	/* a handler of the program's own replaces the recorder's */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, &o);
	printf("SIGUSR1 was %s\n", name(o.sa_handler));
	raise(SIGUSR1);
	printf("SIGUSR1 handled: %d\n", got == SIGUSR1);
	sigaction(SIGUSR1, NULL, &o);
	printf("SIGUSR1 is %s\n", name(o.sa_handler));
	/* SIG_IGN through signal(): a write to a broken pipe fails */
	printf("signal(SIGPIPE, SIG_IGN) was %s\n",
	       name(signal(SIGPIPE, SIG_IGN)));
	if (pipe(p) == 0) {
		close(p[0]);
		ssize_t k = write(p[1], "x", 1);

		printf("write to a broken pipe: %zd %s\n", k,
		       k < 0 ? strerror(errno) : "");
	}
	/* siginterrupt() then signal(): no SA_RESTART, a blocked read
	 * fails with EINTR (restarted, it would end at the third alarm,
	 * which closes the writer) */
	if (pipe(alarm_pipe) == 0) {
		struct itimerval it = { { 0, 50000 }, { 0, 50000 } }, off;
		char c;
		ssize_t k;

		/* the legacy call is what is tested: glibc marks it */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
		siginterrupt(SIGALRM, 1);
#pragma GCC diagnostic pop
		signal(SIGALRM, on_alarm);
		setitimer(ITIMER_REAL, &it, NULL);
		k = read(alarm_pipe[0], &c, 1);
		memset(&off, 0, sizeof(off));
		setitimer(ITIMER_REAL, &off, NULL);
		printf("read after siginterrupt: %s\n",
		       k < 0 && errno == EINTR ? "EINTR" : "restarted");
	}
	/* an ignored signal the program was started with stays ignored */
	kill(getpid(), SIGHUP);
	sigaction(SIGHUP, NULL, &o);
	printf("after SIGHUP: alive, SIGHUP %s\n", name(o.sa_handler));
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	int p[2];

	n = argc > 2 ? atol(argv[2]) : 1000;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(m, "thread")) {
		pthread_t t;

		pthread_create(&t, NULL, crasher, NULL);
		for (;;) {
			free(malloc(100));
			sched_yield();
		}
	}
	if (!strcmp(m, "view")) {
		allocs();
		return view();
	}
	if (!strcmp(m, "oneshot")) {
		struct sigaction o;

		set_get(SIGTERM, on_term_once, SA_RESETHAND, &o);
		printf("SIGTERM: %s, SA_RESETHAND %d\n",
		       o.sa_handler == on_term_once ? "on_term_once" : "other",
		       !!(o.sa_flags & SA_RESETHAND));
		allocs();
		kill(getpid(), SIGTERM);
		pause();
	}
	if (!strcmp(m, "recover")) {
		allocs();
		signal(SIGSEGV, on_segv);
		if (!sigsetjmp(back, 1))
			*nowhere = 1;
		printf("recovered\n");
		allocs();
		return 0;
	}
	allocs();
	printf("%s: %ld mallocs\n", m, n);
	if (!strcmp(m, "segv"))
		*nowhere = 1;
	else if (!strcmp(m, "term"))
		kill(getpid(), SIGTERM);
	else if (!strcmp(m, "pipe") && pipe(p) == 0) {
		close(p[0]);
		if (write(p[1], "x", 1) < 0)
			perror("write");
	}
	pause();
	return 1;
}
