/* cowsource.h - the executor's source text, embedded at build time (cowsource.c). */
#ifndef COWSOURCE_H
#define COWSOURCE_H

/* include/cowreal.h and cowreal.c, verbatim, NUL-terminated. */
const char *cf_embedded_header(void);
const char *cf_embedded_implementation(void);

#endif
