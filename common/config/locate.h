/*
 * config/locate — where a value sits in the raw text of a JSON document,
 * for error messages ("shoal.json:7:5: routes[2].handler: ...").
 *
 * jansson reports positions only for syntax errors; once a document has
 * parsed, its values carry none. This scans the text again along a path of
 * object keys and array indices. The text must be one jansson accepted:
 * that is what keeps the scanner small. It never reads past len.
 */
#ifndef SHOAL_CONFIG_LOCATE_H
#define SHOAL_CONFIG_LOCATE_H

#include <stddef.h>

/* A position counted like jansson's: line and character (not byte) from 1. */
struct config_pos {
	int line, col;
};

/* One step of a path: the member key of an object, or (key NULL) the
 * index-th element of an array. */
struct config_step {
	const char *key;
	long index;
};

/*
 * Where the value at path (depth steps; 0: the top-level value) starts in
 * text. A key step is located at the key's opening quote, an index step at
 * the element. If a later step cannot be followed (a missing key, an index
 * past the end), pos is the deepest step found. Returns 0 and sets pos, or
 * -1 (pos untouched) if not even the first step is found.
 */
int config_locate(const char *text, size_t len,
    const struct config_step *path, size_t depth, struct config_pos *pos);

#endif
