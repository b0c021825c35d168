// What glibc declares only under _GNU_SOURCE, which Swift's Glibc module does not
// define: the CPUs this process may run on, and a thread's name.
#ifndef CTHREADS_H
#define CTHREADS_H

// The CPUs in this thread's affinity mask (what taskset and cpusets narrow), 1 when unknown.
int fg_allowed_cpus(void);

// Names the calling thread (`top -H`, `ps -L`); the kernel keeps 15 bytes.
void fg_name_thread(const char *name);

#endif
