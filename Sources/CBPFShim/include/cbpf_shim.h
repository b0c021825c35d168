// Macro-free entry points into libbpf for Swift. Each function exists because
// Swift cannot call the libbpf API it wraps directly (variadic callbacks,
// LIBBPF_OPTS designated initialisers); none adds behaviour of its own.
#ifndef CBPF_SHIM_H
#define CBPF_SHIM_H

#include <stddef.h>
#include "cfabric_abi_ref.h"

#ifdef __cplusplus
extern "C" {
#endif

// libbpf's version as "major.minor", so the agent can report what it runs on.
const char *fg_libbpf_version(void);

// libbpf prints through a printf-style va_list callback, which Swift cannot
// implement. This formats each message and hands the line to `sink`
// (level: 0 warn, 1 info, 2 debug); a NULL sink silences libbpf.
typedef void (*fg_libbpf_log_sink)(int level, const char *line);
void fg_libbpf_set_log_sink(fg_libbpf_log_sink sink);

#ifdef __cplusplus
}
#endif

#endif
