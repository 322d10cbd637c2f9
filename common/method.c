/*
 * method — see method.h.
 */
#include "common/method.h"

#include <string.h>

static const struct {
	const char *name;
	size_t len;
} methods[METHOD_COUNT] = {
#define M(id, s) [id] = { s, sizeof(s) - 1 }
	M(METHOD_DELETE, "DELETE"), M(METHOD_GET, "GET"), M(METHOD_HEAD, "HEAD"),
	M(METHOD_POST, "POST"), M(METHOD_PUT, "PUT"),
	M(METHOD_CONNECT, "CONNECT"), M(METHOD_OPTIONS, "OPTIONS"),
	M(METHOD_TRACE, "TRACE"), M(METHOD_COPY, "COPY"), M(METHOD_LOCK, "LOCK"),
	M(METHOD_MKCOL, "MKCOL"), M(METHOD_MOVE, "MOVE"),
	M(METHOD_PROPFIND, "PROPFIND"), M(METHOD_PROPPATCH, "PROPPATCH"),
	M(METHOD_SEARCH, "SEARCH"), M(METHOD_UNLOCK, "UNLOCK"),
	M(METHOD_BIND, "BIND"), M(METHOD_REBIND, "REBIND"),
	M(METHOD_UNBIND, "UNBIND"), M(METHOD_ACL, "ACL"),
	M(METHOD_REPORT, "REPORT"), M(METHOD_MKACTIVITY, "MKACTIVITY"),
	M(METHOD_CHECKOUT, "CHECKOUT"), M(METHOD_MERGE, "MERGE"),
	M(METHOD_MSEARCH, "M-SEARCH"), M(METHOD_NOTIFY, "NOTIFY"),
	M(METHOD_SUBSCRIBE, "SUBSCRIBE"), M(METHOD_UNSUBSCRIBE, "UNSUBSCRIBE"),
	M(METHOD_PATCH, "PATCH"), M(METHOD_PURGE, "PURGE"),
	M(METHOD_MKCALENDAR, "MKCALENDAR"), M(METHOD_LINK, "LINK"),
	M(METHOD_UNLINK, "UNLINK"), M(METHOD_SOURCE, "SOURCE"),
#undef M
};

const char *
method_name(int id)
{
	return id >= 0 && id < METHOD_COUNT ? methods[id].name : NULL;
}

int
method_lookup(const char *s, size_t len)
{
	/* GET, HEAD and POST are most of the traffic: ask them first. */
	if (len == 3 && memcmp(s, "GET", 3) == 0)
		return METHOD_GET;
	for (int i = 0; i < METHOD_COUNT; i++)
		if (methods[i].len == len && memcmp(methods[i].name, s, len) == 0)
			return i;
	return -1;
}
