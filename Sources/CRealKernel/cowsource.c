/* cowsource.c - the executor's own source text, for `cowfuzz export-c` and for the
 * helper's fallback build: C23 #embed puts the very files this target compiles into it,
 * so the text can never drift from the code. */
#include "cowreal.h"

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wc23-extensions"
static const char cf_header_text[] = {
#embed "include/cowreal.h"
	, 0
};
static const char cf_implementation_text[] = {
#embed "cowreal.c"
	, 0
};
#pragma clang diagnostic pop

const char *cf_embedded_header(void) { return cf_header_text; }
const char *cf_embedded_implementation(void) { return cf_implementation_text; }
