// Everything is in include/cprefetch.h (static inline); a C target needs a source file.
#include "cprefetch.h"
