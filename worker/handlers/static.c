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
 *
 * Confinement does not rest on string checks alone. The decoded path is
 * refused if it has a ".." segment, a NUL, a backslash or an encoded '/'
 * (so it is a plain relative name), and it is then opened relative to an
 * O_PATH fd of the root that each worker opens once, never by an absolute
 * name. Unless follow_symlinks is set, symlinks are refused as well, by
 * the kernel: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where it
 * exists (Linux 5.6+), otherwise a walk of the components, each opened
 * with O_NOFOLLOW relative to the previous one. Either way nothing that is
 * renamed or relinked while we look can take the open outside the root.
 *
 * The handler runs on the event loop: open and fstat of local files are
 * all it does. A file of up to FILECACHE_MAX bytes is kept open between
 * requests (filecache.c: checked so that what is served is the file as
 * it is now, or a tenth of a second ago) and read into memory for each
 * response, which then goes out in one write with its head; a larger
 * one is opened for each request and sent with sendfile from the
 * connection layer (http_response_file).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "common/log.h"
#include "worker/api/http.h"
#include "worker/handlers/builtin.h"
#include "worker/handlers/filecache.h"

/* Longest decoded path below the root we try to open. */
#define STATIC_PATH_MAX 4096

/* Flags of every open of something we may serve: O_NONBLOCK so that a
 * FIFO planted in the root cannot stall the worker in open(2). */
#define STATIC_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

struct static_route {
	int root_fd;                 /* O_PATH | O_DIRECTORY */
	char *index;
	bool follow_symlinks;
	bool have_openat2;           /* probed at init */
	struct filecache *cache;     /* small files kept open */
};

/* The route's keys as read from its JSON object (borrowed strings). */
struct static_conf {
	const char *root;
	const char *index;
	bool follow_symlinks;
};

/* ---- configuration ----------------------------------------------------- */

static const char *const static_keys[] = { "path", "match", "methods",
    "handler", "root", "index", "follow_symlinks", NULL };

static bool
static_known_key(const char *key)
{
	for (const char *const *k = static_keys; *k != NULL; k++)
		if (strcmp(key, *k) == 0)
			return true;
	return false;
}

/* A JSON string without embedded NULs, or NULL. */
static const char *
static_plain_string(const json_t *v)
{
	const char *s = json_string_value(v);

	return s != NULL && strlen(s) == json_string_length(v) ? s : NULL;
}

static int
static_conf_read(const json_t *route, struct static_conf *sc, char *err,
    size_t errlen)
{
	const char *key;
	json_t *v;

	sc->root = NULL;
	sc->index = "index.html";
	sc->follow_symlinks = false;
	if (!json_is_object(route)) {
		snprintf(err, errlen, "a route must be a JSON object");
		return -1;
	}
	/* jansson's iterators take a non-const object; we only read it. */
	json_object_foreach((json_t *)(uintptr_t)route, key, v) {
		if (!static_known_key(key)) {
			snprintf(err, errlen, "unknown key \"%s\" for handler "
			    "static", key);
			return -1;
		}
	}

	v = json_object_get(route, "root");
	if (v == NULL) {
		snprintf(err, errlen, "\"root\": required for handler static "
		    "(the directory to serve)");
		return -1;
	}
	sc->root = static_plain_string(v);
	if (sc->root == NULL || *sc->root == '\0') {
		snprintf(err, errlen, "\"root\": expected a directory name");
		return -1;
	}

	v = json_object_get(route, "index");
	if (v != NULL) {
		sc->index = static_plain_string(v);
		if (sc->index == NULL || *sc->index == '\0' ||
		    strchr(sc->index, '/') != NULL ||
		    strcmp(sc->index, ".") == 0 ||
		    strcmp(sc->index, "..") == 0 ||
		    strlen(sc->index) > NAME_MAX) {
			snprintf(err, errlen, "\"index\": expected a file name "
			    "(no '/'), like \"index.html\"");
			return -1;
		}
	}

	v = json_object_get(route, "follow_symlinks");
	if (v != NULL) {
		if (!json_is_boolean(v)) {
			snprintf(err, errlen, "\"follow_symlinks\": expected "
			    "true or false");
			return -1;
		}
		sc->follow_symlinks = json_is_true(v);
	}
	return 0;
}

/* At config load: the keys are valid and root is a directory now. */
static int
static_check(const json_t *route, char *err, size_t errlen)
{
	struct static_conf sc;
	struct stat st;

	if (static_conf_read(route, &sc, err, errlen) == -1)
		return -1;
	if (stat(sc.root, &st) == -1) {
		snprintf(err, errlen, "\"root\": %s: %s", sc.root,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "\"root\": %s: %s", sc.root,
		    strerror(ENOTDIR));
		return -1;
	}
	return 0;
}

#ifdef SYS_openat2
static int
static_openat2(int dirfd, const char *name, uint64_t flags, uint64_t resolve)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = flags;
	how.resolve = resolve;
	return (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
}
#endif

/*
 * Whether openat2 works here. It fails with ENOSYS before Linux 5.6, and
 * with EPERM under seccomp filters written before it existed; the walk is
 * as safe, only a few more syscalls.
 */
static bool
static_probe_openat2(int root_fd)
{
#ifdef SYS_openat2
	int fd = static_openat2(root_fd, ".", O_PATH | O_CLOEXEC,
	    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);

	if (fd >= 0) {
		close(fd);
		return true;
	}
#else
	(void)root_fd;
#endif
	return false;
}

static void
static_free(void *state)
{
	struct static_route *sr = state;

	if (sr == NULL)
		return;
	if (sr->root_fd >= 0)
		close(sr->root_fd);
	filecache_free(sr->cache);
	free(sr->index);
	free(sr);
}

/* Per worker: open the root. */
static int
static_init(const json_t *route, void **state, char *err, size_t errlen)
{
	struct static_conf sc;
	struct static_route *sr = NULL;

	if (static_conf_read(route, &sc, err, errlen) == -1)
		goto err;
	if ((sr = calloc(1, sizeof(*sr))) == NULL ||
	    (sr->index = strdup(sc.index)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	sr->follow_symlinks = sc.follow_symlinks;
	if ((sr->cache = filecache_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto err;
	}
	sr->root_fd = open(sc.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sr->root_fd == -1) {
		snprintf(err, errlen, "\"root\": %s: %s", sc.root,
		    strerror(errno));
		goto err;
	}
	sr->have_openat2 = static_probe_openat2(sr->root_fd);
	log_debug("static: serving %s (%s%s)", sc.root,
	    sr->have_openat2 ? "openat2" : "component walk",
	    sr->follow_symlinks ? ", following symlinks" : "");
	*state = sr;
	return 0;
err:
	static_free(sr);
	return -1;
}

/* ---- paths ------------------------------------------------------------- */

enum static_path {
	STATIC_PATH_OK = 0,
	STATIC_PATH_REFUSE = -1,     /* 404: could leave the root, or odd */
	STATIC_PATH_BAD = -2,        /* 400: a malformed %-escape */
};

static int
static_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode in (len bytes, the request path below the route's path, still
 * %-encoded) into out (outsz bytes, NUL-terminated): a name relative to
 * the root, segments joined by single '/', empty and "." segments dropped,
 * no leading or trailing '/' ("" is the root itself). Refused: a ".."
 * segment however encoded, a NUL, a backslash (plain or encoded), an
 * encoded '/', and a result that does not fit out.
 */
static enum static_path
static_path_decode(const char *in, size_t len, char *out, size_t outsz)
{
	size_t o = 0;            /* bytes in out */
	size_t keep = 0;         /* o before the current segment and its '/' */
	size_t seg = 0;          /* where the current segment's bytes start */
	bool in_seg = false;

	if (outsz == 0)
		return STATIC_PATH_REFUSE;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c;

		if (i == len || in[i] == '/') {
			size_t n = o - seg;

			if (!in_seg)
				continue;        /* an empty segment */
			in_seg = false;
			if (n == 1 && out[seg] == '.')
				o = keep;
			else if (n == 2 && out[seg] == '.' &&
			    out[seg + 1] == '.')
				return STATIC_PATH_REFUSE;
			continue;
		}
		c = (unsigned char)in[i];
		if (c == '%') {
			int hi, lo;

			if (len - i < 3 ||
			    (hi = static_hex((unsigned char)in[i + 1])) < 0 ||
			    (lo = static_hex((unsigned char)in[i + 2])) < 0)
				return STATIC_PATH_BAD;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			/* An encoded '/' would be a separator we did not see
			 * as one: refuse rather than guess. */
			if (c == '/')
				return STATIC_PATH_REFUSE;
		}
		if (c == '\0' || c == '\\')
			return STATIC_PATH_REFUSE;
		if (!in_seg) {
			/* the separator goes in only before a segment */
			keep = o;
			if (o > 0) {
				if (o + 1 >= outsz)
					return STATIC_PATH_REFUSE;
				out[o++] = '/';
			}
			seg = o;
			in_seg = true;
		}
		if (o + 1 >= outsz)
			return STATIC_PATH_REFUSE;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return STATIC_PATH_OK;
}

/*
 * Open rel (from static_path_decode) beneath the root without following
 * any symlink: each directory with O_PATH | O_NOFOLLOW | O_DIRECTORY (a
 * symlink there fails with ENOTDIR), the last component with O_NOFOLLOW
 * (ELOOP on a symlink). -1 with errno set.
 */
static int
static_walk(int root_fd, const char *rel)
{
	char name[NAME_MAX + 1];
	const char *p = rel, *slash;
	int dfd = root_fd, fd, e;

	if (*rel == '\0')
		return openat(root_fd, ".", STATIC_OPEN_FLAGS);
	while ((slash = strchr(p, '/')) != NULL) {
		size_t n = (size_t)(slash - p);

		if (n > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto err;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd == -1)
			goto err;
		if (dfd != root_fd)
			close(dfd);
		dfd = fd;
		p = slash + 1;
	}
	fd = openat(dfd, p, STATIC_OPEN_FLAGS | O_NOFOLLOW);
	if (fd == -1)
		goto err;
	if (dfd != root_fd)
		close(dfd);
	return fd;
err:
	e = errno;
	if (dfd != root_fd)
		close(dfd);
	errno = e;
	return -1;
}

/* Open rel beneath the route's root, for reading. -1 with errno set. */
static int
static_open(const struct static_route *sr, const char *rel)
{
	const char *name = *rel != '\0' ? rel : ".";

	/* rel is relative and has no "..": only a symlink can lead out, and
	 * this route allows that. */
	if (sr->follow_symlinks)
		return openat(sr->root_fd, name, STATIC_OPEN_FLAGS);
#ifdef SYS_openat2
	if (sr->have_openat2)
		return static_openat2(sr->root_fd, name, STATIC_OPEN_FLAGS,
		    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS);
#endif
	return static_walk(sr->root_fd, rel);
}

/* The status for a failed open or fstat. */
static int
static_errno_status(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
		return 403;
	case ENOENT:
	case ENOTDIR:
	case ELOOP:            /* a symlink refused by O_NOFOLLOW / openat2 */
	case EXDEV:            /* openat2: would leave the root */
	case ENAMETOOLONG:
	case ENXIO:            /* a socket or a FIFO without writer */
		return 404;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
	case EAGAIN:
		return 503;
	default:
		return 500;
	}
}

/* ---- content types ----------------------------------------------------- */

static const struct {
	const char *ext;
	const char *type;
} static_mime_types[] = {
	{ "html",  "text/html; charset=utf-8" },
	{ "htm",   "text/html; charset=utf-8" },
	{ "css",   "text/css; charset=utf-8" },
	{ "js",    "text/javascript; charset=utf-8" },
	{ "mjs",   "text/javascript; charset=utf-8" },
	{ "json",  "application/json" },
	{ "map",   "application/json" },
	{ "txt",   "text/plain; charset=utf-8" },
	{ "xml",   "text/xml; charset=utf-8" },
	{ "svg",   "image/svg+xml" },
	{ "png",   "image/png" },
	{ "jpg",   "image/jpeg" },
	{ "jpeg",  "image/jpeg" },
	{ "gif",   "image/gif" },
	{ "webp",  "image/webp" },
	{ "ico",   "image/x-icon" },
	{ "wasm",  "application/wasm" },
	{ "pdf",   "application/pdf" },
	{ "woff",  "font/woff" },
	{ "woff2", "font/woff2" },
	{ "mp4",   "video/mp4" },
	{ "webm",  "video/webm" },
};

/* The Content-Type for a file name, from its extension (any case). */
static const char *
static_mime(const char *name)
{
	const char *base = strrchr(name, '/');
	const char *dot;

	base = base != NULL ? base + 1 : name;
	dot = strrchr(base, '.');
	if (dot != NULL && dot != base) {
		for (size_t i = 0; i < sizeof(static_mime_types) /
		    sizeof(static_mime_types[0]); i++)
			if (strcasecmp(dot + 1, static_mime_types[i].ext) == 0)
				return static_mime_types[i].type;
	}
	return "application/octet-stream";
}

/* ---- validators -------------------------------------------------------- */

/* A strong ETag from the size and the mtime in ns: "<mtime>-<size>". */
static void
static_etag(const struct stat *st, char *out, size_t outsz)
{
	uint64_t ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u +
	    (uint64_t)st->st_mtim.tv_nsec;

	snprintf(out, outsz, "\"%" PRIx64 "-%" PRIx64 "\"", ns,
	    (uint64_t)st->st_size);
}

static bool
static_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Whether the field value list ("*" or entity-tags, If-None-Match or
 * If-Match) matches etag (ours, strong, quoted). Weak comparison ignores
 * the W/ prefix; strong comparison never matches a weak tag. A malformed
 * list matches nothing from the point it goes wrong.
 */
static bool
static_etag_match(const char *list, size_t len, const char *etag, bool weak)
{
	const char *p = list, *end = list + len;
	size_t elen = strlen(etag);

	for (;;) {
		const char *q;
		bool is_weak = false;

		while (p < end && (static_ows(*p) || *p == ','))
			p++;
		if (p == end)
			return false;
		if (*p == '*')
			return true;
		if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
			is_weak = true;
			p += 2;
		}
		if (*p != '"' ||
		    (q = memchr(p + 1, '"', (size_t)(end - p - 1))) == NULL)
			return false;
		q++;
		if ((weak || !is_weak) && (size_t)(q - p) == elen &&
		    memcmp(p, etag, elen) == 0)
			return true;
		p = q;
	}
}

/* ---- ranges ------------------------------------------------------------ */

enum static_range {
	STATIC_RANGE_NONE,           /* ignore Range: send the whole, 200 */
	STATIC_RANGE_ONE,            /* 206 with *start, *len */
	STATIC_RANGE_UNSATISFIABLE,  /* 416 */
};

/* Digits at *p as a non-negative number, saturating; false if none. */
static bool
static_range_num(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	while (*p < end && **p >= '0' && **p <= '9') {
		unsigned dgt = (unsigned)(**p - '0');

		v = v > (UINT64_MAX - dgt) / 10 ? UINT64_MAX : v * 10 + dgt;
		(*p)++;
	}
	*out = v;
	return *p > s;
}

/*
 * A Range field value against a representation of size bytes (RFC 9110
 * 14.1.2): "bytes=a-b", "bytes=a-" or "bytes=-n". Ignored (NONE): another
 * unit, bad syntax, more than one range (we may send the whole instead of
 * multipart/byteranges, 14.2), an empty file. UNSATISFIABLE when the one
 * range starts at or after the end, or is a suffix of 0 bytes.
 */
static enum static_range
static_range_parse(const char *v, size_t len, off_t size, off_t *start,
    off_t *rlen)
{
	const char *p = v, *end = v + len;
	uint64_t first = 0, last = 0, usize;
	bool has_first = false, has_last = false;
	int n = 0;

	if (size <= 0)
		return STATIC_RANGE_NONE;
	usize = (uint64_t)size;
	while (p < end && static_ows(*p))
		p++;
	if (end - p < 6 || strncasecmp(p, "bytes=", 6) != 0)
		return STATIC_RANGE_NONE;
	p += 6;
	/* 1#range-spec, empty list elements allowed (RFC 9110 5.6.1.2) */
	for (;;) {
		bool f, l;
		uint64_t a, b;

		while (p < end && (static_ows(*p) || *p == ','))
			p++;
		if (p == end)
			break;
		f = static_range_num(&p, end, &a);
		if (p == end || *p != '-')
			return STATIC_RANGE_NONE;
		p++;
		l = static_range_num(&p, end, &b);
		if ((!f && !l) || (f && l && b < a))
			return STATIC_RANGE_NONE;
		while (p < end && static_ows(*p))
			p++;
		if (p < end && *p != ',')
			return STATIC_RANGE_NONE;
		if (++n > 1)
			continue;    /* check the syntax of the rest */
		first = a, has_first = f;
		last = b, has_last = l;
	}
	if (n != 1)
		return STATIC_RANGE_NONE;
	if (!has_first) {
		/* suffix: the last `last` bytes */
		if (last == 0)
			return STATIC_RANGE_UNSATISFIABLE;
		if (last > usize)
			last = usize;
		*start = (off_t)(usize - last);
		*rlen = (off_t)last;
		return STATIC_RANGE_ONE;
	}
	if (first >= usize)
		return STATIC_RANGE_UNSATISFIABLE;
	if (!has_last || last >= usize)
		last = usize - 1;
	*start = (off_t)first;
	*rlen = (off_t)(last - first + 1);
	return STATIC_RANGE_ONE;
}

/* ---- responses --------------------------------------------------------- */

/* A short text/plain response whose body is the reason phrase. */
static void
static_plain(struct http_response *resp, int status)
{
	/* 412 is ours alone so far: the shared table lacks it */
	const char *reason = status == 412 ? "Precondition Failed" :
	    http_status_reason(status);

	http_response_static(resp, status, "text/plain", reason,
	    strlen(reason));
}

/* The response for a failed open or fstat (errno e); logged if it is the
 * server's fault. The raw path goes in the log: it has no CR/LF, unlike a
 * decoded one. */
static void
static_fail(const struct http_request *req, struct http_response *resp,
    int e)
{
	int status = static_errno_status(e);

	if (status >= 500)
		log_warn("static: %.*s: %s", (int)req->path_len, req->path,
		    strerror(e));
	static_plain(resp, status);
}

/* 301 to the directory's name with a '/' added (and the query kept). */
static void
static_redirect(const struct http_request *req, struct http_response *resp)
{
	struct buf loc = { NULL, 0, 0 };
	const char *p = req->path;
	size_t n = req->path_len;

	/* "//host/dir" would be a network-path reference: to another host */
	while (n > 1 && p[0] == '/' && p[1] == '/')
		p++, n--;
	if (buf_printf(&loc, "%.*s/%s%.*s", (int)n, p,
	    req->query != NULL ? "?" : "", req->query != NULL ?
	    (int)req->query_len : 0, req->query != NULL ? req->query : "") ==
	    -1 || http_response_header(resp, "Location", loc.p) == -1) {
		buf_free(&loc);
		static_plain(resp, 500);
		return;
	}
	buf_free(&loc);
	static_plain(resp, 301);
}

/*
 * The conditional-request preconditions of RFC 9110 13.2.2, steps 1-4, for
 * GET/HEAD: 412, 304, or 0 to go on.
 */
static int
static_preconditions(const struct http_request *req, const char *etag,
    time_t mtime)
{
	const char *v;
	size_t len;
	time_t t;

	if ((v = http_request_header(req, "If-Match", &len)) != NULL) {
		if (!static_etag_match(v, len, etag, false))
			return 412;
	} else if ((v = http_request_header(req, "If-Unmodified-Since",
	    &len)) != NULL && http_date_parse(v, len, &t) == 0 &&
	    mtime > t) {
		return 412;
	}
	if ((v = http_request_header(req, "If-None-Match", &len)) != NULL) {
		if (static_etag_match(v, len, etag, true))
			return 304;
	} else if ((v = http_request_header(req, "If-Modified-Since",
	    &len)) != NULL && http_date_parse(v, len, &t) == 0 &&
	    t <= time(NULL) && mtime <= t) {
		/* a date in the future is invalid (RFC 9110 13.1.3) */
		return 304;
	}
	return 0;
}

/*
 * Whether If-Range (absent: yes) lets the Range apply: an entity-tag must
 * match ours strongly, a date must equal Last-Modified.
 */
static bool
static_if_range(const struct http_request *req, const char *etag,
    time_t mtime)
{
	const char *v;
	size_t len;
	time_t t;

	if ((v = http_request_header(req, "If-Range", &len)) == NULL)
		return true;
	while (len > 0 && static_ows(*v))
		v++, len--;
	if (len > 0 && (*v == '"' || (len >= 2 && v[0] == 'W' && v[1] == '/')))
		return static_etag_match(v, len, etag, false);
	return http_date_parse(v, len, &t) == 0 && t == mtime;
}

/*
 * The body of a 200 or 206: len bytes of the cached file fd from start,
 * read into memory now (it goes out in one write with the head), or a
 * HEAD's length. -1: the file's size is not what the cache says.
 */
static int
static_body_mem(struct http_response *resp, int status, const char *ctype,
    int fd, const struct stat *st, off_t start, off_t len, bool head)
{
	/* The whole file: one byte more tells if it grew. */
	size_t want = (size_t)len + (start == 0 && len == st->st_size);
	ssize_t n;

	if (head) {
		/* The head says the length; no body is sent. */
		http_response_static(resp, status, ctype, NULL, (size_t)len);
		return 0;
	}
	resp->body_buf.len = 0;
	if (buf_reserve(&resp->body_buf, want) == -1) {
		static_plain(resp, 503);
		return 0;
	}
	do
		n = pread(fd, resp->body_buf.p, want, start);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)len)
		return -1;
	resp->body_buf.len = (size_t)len;
	http_response_buf(resp, status, ctype);
	return 0;
}

/* Append "name: value\r\n" to the response's fields, no printf. */
static int
static_field(struct http_response *resp, const char *name, const char *value)
{
	int r = buf_append_str(&resp->headers, name);

	r |= buf_append(&resp->headers, ": ", 2);
	r |= buf_append_str(&resp->headers, value);
	r |= buf_append(&resp->headers, "\r\n", 2);
	return r;
}

/* The request has an If-* field: its answer rests on the validators. */
static bool
static_conditional(const struct http_request *req)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (req->headers[i].name_len > 3 &&
		    strncasecmp(req->headers[i].name, "If-", 3) == 0)
			return true;
	return false;
}

/*
 * Answer with the regular file fd (st): with sendfile if fd is ours
 * (consumed on every path), from memory if it is the cache's (borrowed).
 * -1, and resp untouched: the cached file's size changed under it.
 */
static int
static_serve(const struct http_request *req, struct http_response *resp,
    int fd, bool cached, const struct stat *st, const char *ctype,
    const char *etag, const char *lastmod, bool head)
{
	char crange[80];
	size_t saved = resp->headers.len;
	off_t start = 0, len = st->st_size;
	enum static_range r = STATIC_RANGE_NONE;
	const char *v;
	size_t vlen;
	int status;

	crange[0] = '\0';
	status = static_preconditions(req, etag, st->st_mtim.tv_sec);
	if (status == 0) {
		status = 200;
		/* Range is defined for GET only (RFC 9110 14.2) */
		if (!head && (v = http_request_header(req, "Range", &vlen)) !=
		    NULL && static_if_range(req, etag, st->st_mtim.tv_sec))
			r = static_range_parse(v, vlen, st->st_size, &start,
			    &len);
		if (r == STATIC_RANGE_ONE) {
			status = 206;
			snprintf(crange, sizeof(crange), "bytes %lld-%lld/%lld",
			    (long long)start, (long long)(start + len - 1),
			    (long long)st->st_size);
		} else if (r == STATIC_RANGE_UNSATISFIABLE) {
			status = 416;
			snprintf(crange, sizeof(crange), "bytes */%lld",
			    (long long)st->st_size);
		}
	}

	if ((status != 412 && status != 416 &&
	    (static_field(resp, "ETag", etag) == -1 ||
	    static_field(resp, "Last-Modified", lastmod) == -1)) ||
	    ((status == 200 || status == 206) &&
	    static_field(resp, "Accept-Ranges", "bytes") == -1) ||
	    (crange[0] != '\0' &&
	    static_field(resp, "Content-Range", crange) == -1)) {
		resp->headers.len = saved;
		status = 500;
	}
	if (cached && (status == 200 || status == 206)) {
		if (static_body_mem(resp, status, ctype, fd, st, start, len,
		    head) == -1) {
			resp->headers.len = saved;
			return -1;
		}
		return 0;
	}
	if (status == 200 || status == 206) {
		http_response_file(resp, status, ctype, fd, start, len);
		return 0;
	}
	if (!cached)
		close(fd);
	if (status == 304)
		http_response_static(resp, 304, NULL, NULL, 0);
	else
		static_plain(resp, status);
	return 0;
}

/* Serve the regular file fd (st) opened for key as name: from the cache,
 * where it then stays, if it is small; fd is consumed on every path. */
static void
static_serve_new(const struct static_route *sr, const char *key,
    const struct http_request *req, struct http_response *resp, int fd,
    const struct stat *st, const char *name, bool head)
{
	const struct filecache_entry *ce = NULL;
	const char *ctype = static_mime(name);
	char etag[48], lastmod[40];

	static_etag(st, etag, sizeof(etag));
	http_date_format(st->st_mtim.tv_sec, lastmod, sizeof(lastmod));
	if (sr->cache != NULL && st->st_size <= FILECACHE_MAX)
		ce = filecache_put(sr->cache, key, fd, st, ctype, etag, lastmod);
	if (static_serve(req, resp, fd, ce != NULL, st, ctype, etag, lastmod,
	    head) == -1) {
		/* It changed size between the fstat and the read: a race with
		 * a writer, the promised length cannot be kept. */
		filecache_forget(sr->cache, key);
		static_plain(resp, 503);
	}
}

static void
static_handle(struct http_request *req, struct http_response *resp,
    void *state)
{
	const struct static_route *sr = state;
	char rel[STATIC_PATH_MAX + 1];
	const struct filecache_entry *ce;
	const char *name;
	struct stat st;
	size_t plen = req->route_path != NULL ? strlen(req->route_path) : 0;
	bool head, slash;
	size_t rlen;
	int fd, dfd, e;

	head = strcmp(req->method, "HEAD") == 0;
	if (!head && strcmp(req->method, "GET") != 0) {
		if (http_response_header(resp, "Allow", "GET, HEAD") == -1)
			static_plain(resp, 500);
		else
			static_plain(resp, 405);
		return;
	}
	if (req->path_len < plen || (plen > 0 && memcmp(req->path,
	    req->route_path, plen) != 0)) {
		static_plain(resp, 404);
		return;
	}
	/* room for the '/' of the cache's key */
	switch (static_path_decode(req->path + plen, req->path_len - plen,
	    rel, sizeof(rel) - 1)) {
	case STATIC_PATH_OK:
		break;
	case STATIC_PATH_BAD:
		static_plain(resp, 400);
		return;
	default:
		static_plain(resp, 404);
		return;
	}
	slash = req->path_len > 0 && req->path[req->path_len - 1] == '/';
	/* The cache's key: the name, and a '/' if a directory's index is
	 * asked for. */
	rlen = strlen(rel);
	if (slash)
		memcpy(rel + rlen, "/", 2);
	if (sr->cache != NULL && (ce = filecache_get(sr->cache, rel,
	    static_conditional(req))) != NULL) {
		if (static_serve(req, resp, ce->fd, true, &ce->st, ce->ctype,
		    ce->etag, ce->lastmod, head) == 0)
			return;
		/* Its size changed: open it again. */
		filecache_forget(sr->cache, rel);
	}
	rel[rlen] = '\0';

	if ((fd = static_open(sr, rel)) == -1) {
		static_fail(req, resp, errno);
		return;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	name = rel;
	if (S_ISDIR(st.st_mode)) {
		if (!slash) {
			close(fd);
			static_redirect(req, resp);
			return;
		}
		dfd = fd;
		fd = openat(dfd, sr->index, STATIC_OPEN_FLAGS |
		    (sr->follow_symlinks ? 0 : O_NOFOLLOW));
		e = errno;
		close(dfd);
		if (fd == -1) {
			static_fail(req, resp, e);
			return;
		}
		if (fstat(fd, &st) == -1)
			goto fail;
		name = sr->index;
	} else if (slash) {
		/* "file.txt/": a file is no directory */
		close(fd);
		static_plain(resp, 404);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		static_plain(resp, 404);
		return;
	}
	if (slash)
		memcpy(rel + rlen, "/", 2);
	static_serve_new(sr, rel, req, resp, fd, &st, name, head);
	return;
fail:
	e = errno;
	close(fd);
	static_fail(req, resp, e);
}

const struct handler_def static_handler = {
	.name = "static",
	.help = "files beneath \"root\" (GET/HEAD, ETag, conditional "
	    "requests, byte ranges)",
	.check = static_check,
	.init = static_init,
	.handle = static_handle,
	.free = static_free,
};
