/* readloop: time N open+read+close (or stat) calls of one path; prints the
 * per-call latency percentiles in nanoseconds as one JSON line. A C loop,
 * so that the figures measure the file system and not an interpreter. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int compare(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[1], "read") != 0 && strcmp(argv[1], "stat") != 0)) {
		fprintf(stderr, "usage: readloop read|stat PATH COUNT\n");
		return 2;
	}
	const char *path = argv[2];
	long count = atol(argv[3]);
	long long *samples = calloc((size_t)count, sizeof(*samples));
	char buffer[65536];
	struct stat st;

	if (samples == NULL || count <= 0)
		return 2;
	long long start = now_ns();

	for (long i = 0; i < count; i++) {
		long long t0 = now_ns();

		if (argv[1][0] == 's') {
			if (stat(path, &st) != 0)
				return perror(path), 1;
		} else {
			int fd = open(path, O_RDONLY);

			if (fd < 0)
				return perror(path), 1;
			while (read(fd, buffer, sizeof(buffer)) > 0)
				;
			close(fd);
		}
		samples[i] = now_ns() - t0;
	}
	long long total = now_ns() - start;

	qsort(samples, (size_t)count, sizeof(*samples), compare);
	printf("{\"count\": %ld, \"total_ns\": %lld, \"p50_ns\": %lld, \"p99_ns\": %lld, "
	       "\"per_second\": %.0f}\n",
	       count, total, samples[count / 2], samples[count * 99 / 100],
	       (double)count * 1e9 / (double)total);
	free(samples);
	return 0;
}
