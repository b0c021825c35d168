#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "cthreads.h"

int fg_allowed_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	return CPU_COUNT(&set);
}

void fg_name_thread(const char *name)
{
	char kept[16];

	strncpy(kept, name, sizeof(kept) - 1);
	kept[sizeof(kept) - 1] = 0;
	pthread_setname_np(pthread_self(), kept);
}
