/*
 * tap.h - the smallest test harness that reports well: TAP lines
 * ("ok N - name" / "not ok N - name") and CHECK macros that print both
 * sides and the line on failure.  Include once per test program.
 */
#ifndef HT_TAP_H
#define HT_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed, tap_case_failed;

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			printf("# %s:%d: CHECK(%s) failed\n", __FILE__,     \
			       __LINE__, #cond);                            \
			tap_case_failed = 1;                                \
		}                                                           \
	} while (0)

#define CHECK_EQ(a, b)                                                      \
	do {                                                                \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);            \
		if (a_ != b_) {                                             \
			printf("# %s:%d: %s == %s failed: %" PRIu64         \
			       " != %" PRIu64 "\n",                         \
			       __FILE__, __LINE__, #a, #b, a_, b_);         \
			tap_case_failed = 1;                                \
		}                                                           \
	} while (0)

#define CHECK_STR(a, b)                                                     \
	do {                                                                \
		const char *a_ = (a), *b_ = (b);                            \
		if (!a_ || !b_ || strcmp(a_, b_)) {                         \
			printf("# %s:%d: %s == %s failed: '%s' != '%s'\n",  \
			       __FILE__, __LINE__, #a, #b, a_ ? a_ : "NULL", \
			       b_ ? b_ : "NULL");                           \
			tap_case_failed = 1;                                \
		}                                                           \
	} while (0)

/* Runs fn() as one numbered test case. */
#define TEST(fn)                                                            \
	do {                                                                \
		tap_case_failed = 0;                                        \
		fn();                                                       \
		printf("%s %d - %s\n", tap_case_failed ? "not ok" : "ok",   \
		       ++tap_n, #fn);                                       \
		tap_failed |= tap_case_failed;                              \
	} while (0)

#define TAP_DONE() (printf("1..%d\n", tap_n), tap_failed)

#endif
