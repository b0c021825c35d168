#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include "cbpf_shim.h"

const char *fg_libbpf_version(void)
{
	return libbpf_version_string();
}

static fg_libbpf_log_sink current_sink;

static int fg_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char line[1024];
	fg_libbpf_log_sink sink = current_sink;

	if (!sink)
		return 0;
	vsnprintf(line, sizeof(line), fmt, args);
	sink((int)level, line);
	return 0;
}

void fg_libbpf_set_log_sink(fg_libbpf_log_sink sink)
{
	current_sink = sink;
	libbpf_set_print(fg_libbpf_print);
}
