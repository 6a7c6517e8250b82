// LD_PRELOAD shim for `pnpm test:clock`: shifts the wall clock (CLOCK_REALTIME, gettimeofday, time)
// of a process and every child it starts by PIPE_CLOCK_OFFSET_MS; monotonic clocks are left alone.
// libfaketime would do, but it hangs redis-server (jemalloc calls clock_gettime while libfaketime is
// still resolving symbols: wolfcw/libfaketime#130). This shim resolves nothing: it asks the kernel.
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long offset_ns;

__attribute__((constructor)) static void read_offset(void) {
  const char *ms = getenv("PIPE_CLOCK_OFFSET_MS");
  offset_ns = ms ? atoll(ms) * 1000000LL : 0;
}

static int real_clock_gettime(clockid_t clock, struct timespec *ts) {
  return (int)syscall(SYS_clock_gettime, clock, ts);
}

static void shift(struct timespec *ts) {
  long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + offset_ns;
  ts->tv_sec = (time_t)(ns / 1000000000LL);
  ts->tv_nsec = (long)(ns % 1000000000LL);
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
  int rc = real_clock_gettime(clock, ts);
  if (rc == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) shift(ts);
  return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
  struct timespec ts;
  (void)tz;
  if (real_clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
  shift(&ts);
  tv->tv_sec = ts.tv_sec;
  tv->tv_usec = ts.tv_nsec / 1000;
  return 0;
}

time_t time(time_t *out) {
  struct timespec ts;
  real_clock_gettime(CLOCK_REALTIME, &ts);
  shift(&ts);
  if (out) *out = ts.tv_sec;
  return ts.tv_sec;
}
