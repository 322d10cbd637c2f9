/*
 * static — the "static" handler: files beneath a root directory (RFC 9110:
 * validators, conditional requests, single byte ranges).
 *
 * Route keys besides path/match/methods/handler:
 *   "root"             required; an existing directory, opened once per
 *                      worker; every file is opened relative to it
 *   "index"            file served for a directory (default "index.html");
 *                      a plain name, no '/'
 *   "follow_symlinks"  default false: no symlink beneath the root is
 *                      followed (404), so none can lead outside it; true
 *                      follows every symlink, wherever it points
 *
 * GET and HEAD only (405 with Allow otherwise). A path that tries to
 * climb out of the root (a ".." segment, plain or %-encoded, an encoded
 * '/', a NUL, a backslash) gets 404, never an answer that tells what is
 * outside.
 */
#ifndef SHOAL_STATIC_H
#define SHOAL_STATIC_H

#include "worker/api/http.h"

extern const struct handler_def static_handler;

#endif
