#ifndef CLIBBPF_SHIM_H
#define CLIBBPF_SHIM_H
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#endif
