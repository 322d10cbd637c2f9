/*
 * method — the HTTP request methods shoal knows: their names and numbers.
 *
 * The request parser (worker/http/) answers 501 to any other method, the
 * "methods" key of a route names them, and handlers see the number as
 * http_request.method_id. The numbers are those of Node's http_parser
 * (enum http_method), which shoal used before it had a parser of its
 * own, so application modules built against either read the same values.
 * Method names are case-sensitive (RFC 9110 9.1).
 */
#ifndef SHOAL_METHOD_H
#define SHOAL_METHOD_H

#include <stddef.h>

enum method_id {
	METHOD_DELETE, METHOD_GET, METHOD_HEAD, METHOD_POST, METHOD_PUT,
	METHOD_CONNECT, METHOD_OPTIONS, METHOD_TRACE,
	/* WebDAV */
	METHOD_COPY, METHOD_LOCK, METHOD_MKCOL, METHOD_MOVE, METHOD_PROPFIND,
	METHOD_PROPPATCH, METHOD_SEARCH, METHOD_UNLOCK, METHOD_BIND,
	METHOD_REBIND, METHOD_UNBIND, METHOD_ACL,
	/* Subversion */
	METHOD_REPORT, METHOD_MKACTIVITY, METHOD_CHECKOUT, METHOD_MERGE,
	/* UPnP */
	METHOD_MSEARCH, METHOD_NOTIFY, METHOD_SUBSCRIBE, METHOD_UNSUBSCRIBE,
	/* RFC 5789, CalDAV, RFC 2068, Icecast */
	METHOD_PATCH, METHOD_PURGE, METHOD_MKCALENDAR, METHOD_LINK,
	METHOD_UNLINK, METHOD_SOURCE,
	METHOD_COUNT
};

/* The longest name of a method ("UNSUBSCRIBE"). */
#define METHOD_NAME_MAX 11

/* The name of method id ("M-SEARCH" for METHOD_MSEARCH), NULL if none. */
const char *method_name(int id);

/* The method whose name is the len bytes at s, or -1 if none. */
int method_lookup(const char *s, size_t len);

#endif
