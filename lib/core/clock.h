/* Clocks, as integer nanoseconds. */
#ifndef STROBE_CLOCK_H
#define STROBE_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC; never fails on Linux. */
uint64_t strobe_clock_wall_ns(void);
/* CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID). */
uint64_t strobe_clock_thread_cpu_ns(void);
/* Wall-clock (CLOCK_REALTIME) seconds since the epoch, for metadata. */
double strobe_clock_unix_time(void);

#endif
