/*
 * Unit tests for worker/handlers/static.c: path decoding and traversal refusal,
 * Range parsing, ETag lists, content types, the route keys,
 * and the handler itself on a real directory tree (a mkdtemp directory
 * that group teardown removes): statuses, headers, file ranges, symlink
 * confinement with openat2 and with the O_NOFOLLOW walk, and no fd leak
 * under a low RLIMIT_NOFILE.
 *
 * The handler's responses are inspected as the connection layer would get
 * them; the fd of a file body is closed here. The handler's tests run
 * twice: without the cache of small files (every body a file, for
 * sendfile) and with it (every body of these small files in memory).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/worker/handlers/fds.h"

#include "worker/handlers/static.c"

#include <dirent.h>
#include <ftw.h>
#include <sys/resource.h>

#define LIT(s) s, sizeof(s) - 1

static bool with_cache;      /* the group's routes keep small files open */
static char tmp[256];        /* the group's directory */
static char root[300];       /* tmp/root: the served tree */

/* ---- helpers ----------------------------------------------------------- */

static int
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd == -1)
		return -1;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static int
at(char *out, size_t outsz, const char *dir, const char *name)
{
	int n = snprintf(out, outsz, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(path, 0700);
	return remove(path);
}

static int
group_setup(void **state)
{
	const char *base = getenv("TMPDIR");
	unsigned char bin[1024];
	char p[PATH_MAX];

	(void)state;
	log_set_level(LOGL_ERROR);
	snprintf(tmp, sizeof(tmp), "%s/shoal-test-static.XXXXXX",
	    base != NULL && *base != '\0' ? base : "/tmp");
	if (mkdtemp(tmp) == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)i;
	snprintf(root, sizeof(root), "%s/root", tmp);
	if (mkdir(root, 0755) == -1 ||
	    at(p, sizeof(p), tmp, "outside.txt") == -1 ||
	    write_file(p, LIT("TOP SECRET\n")) == -1 ||
	    at(p, sizeof(p), root, "hello.txt") == -1 ||
	    write_file(p, LIT("Hello, static!\n")) == -1 ||
	    at(p, sizeof(p), root, "data.bin") == -1 ||
	    write_file(p, bin, sizeof(bin)) == -1 ||
	    at(p, sizeof(p), root, "empty.txt") == -1 ||
	    write_file(p, "", 0) == -1 ||
	    at(p, sizeof(p), root, "a b.txt") == -1 ||
	    write_file(p, LIT("space")) == -1 ||
	    at(p, sizeof(p), root, "sub") == -1 || mkdir(p, 0755) == -1 ||
	    at(p, sizeof(p), root, "sub/index.html") == -1 ||
	    write_file(p, LIT("<h1>sub</h1>\n")) == -1 ||
	    at(p, sizeof(p), root, "sub/deeper") == -1 ||
	    mkdir(p, 0755) == -1 ||
	    at(p, sizeof(p), root, "sub/deeper/x.css") == -1 ||
	    write_file(p, LIT("p{}")) == -1 ||
	    at(p, sizeof(p), root, "noindex") == -1 || mkdir(p, 0755) == -1 ||
	    at(p, sizeof(p), root, "link-in") == -1 ||
	    symlink("hello.txt", p) == -1 ||
	    at(p, sizeof(p), root, "linkdir") == -1 ||
	    symlink("sub", p) == -1 ||
	    at(p, sizeof(p), root, "link-out") == -1 ||
	    symlink("../outside.txt", p) == -1 ||
	    at(p, sizeof(p), root, "link-abs") == -1 ||
	    symlink("/etc/passwd", p) == -1 ||
	    at(p, sizeof(p), root, "linkup") == -1 ||
	    symlink("..", p) == -1 ||
	    at(p, sizeof(p), root, "fifo") == -1 || mkfifo(p, 0644) == -1 ||
	    at(p, sizeof(p), root, "secret.txt") == -1 ||
	    write_file(p, LIT("no")) == -1 || chmod(p, 0) == -1)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A route object {"path":"/static/","handler":"static","root":root,...}. */
static json_t *
route_json(const char *extra_key, json_t *extra_val)
{
	json_t *r = json_pack("{s:s, s:s, s:s, s:s}", "path", "/static/",
	    "match", "prefix", "handler", "static", "root", root);

	assert_non_null(r);
	if (extra_key != NULL)
		assert_int_equal(json_object_set_new(r, extra_key, extra_val),
		    0);
	return r;
}

static struct static_route *
route_new(bool follow, bool openat2)
{
	json_t *r = route_json("follow_symlinks", json_boolean(follow));
	char err[256] = "";
	void *st = NULL;

	assert_int_equal(static_init(r, &st, err, sizeof(err)), 0);
	json_decref(r);
	((struct static_route *)st)->have_openat2 =
	    openat2 && ((struct static_route *)st)->have_openat2;
	if (!with_cache) {
		filecache_free(((struct static_route *)st)->cache);
		((struct static_route *)st)->cache = NULL;
	}
	return st;
}

/* One request through the handler. hdrs: name, value, ..., NULL. */
struct exchange {
	struct http_request req;
	struct http_header h[8];
	struct http_response resp;
};

static void
exchange_run(struct exchange *x, struct static_route *sr, const char *method,
    const char *target, ...)
{
	const char *q = strchr(target, '?');
	va_list ap;
	size_t n = 0;

	memset(x, 0, sizeof(*x));
	x->req.method = method;
	x->req.target = target;
	x->req.target_len = strlen(target);
	x->req.path = target;
	x->req.path_len = q != NULL ? (size_t)(q - target) : strlen(target);
	if (q != NULL) {
		x->req.query = q + 1;
		x->req.query_len = strlen(q + 1);
	}
	x->req.version_major = x->req.version_minor = 1;
	x->req.route_path = "/static/";
	x->req.client = "test";
	va_start(ap, target);
	for (const char *name; (name = va_arg(ap, const char *)) != NULL; n++) {
		const char *value = va_arg(ap, const char *);

		assert_true(n < sizeof(x->h) / sizeof(x->h[0]));
		x->h[n].name = name;
		x->h[n].name_len = strlen(name);
		x->h[n].value = value;
		x->h[n].value_len = strlen(value);
	}
	va_end(ap);
	x->req.headers = x->h;
	x->req.nheaders = n;
	x->resp.file_fd = -1;
	static_handle(&x->req, &x->resp, sr);
}

static void
exchange_done(struct exchange *x)
{
	if (x->resp.file_fd >= 0)
		close(x->resp.file_fd);
	x->resp.file_fd = -1;
	buf_free(&x->resp.headers);
	buf_free(&x->resp.body_buf);
}

/* The value of response header name (NUL-terminated in out), or NULL. */
static const char *
resp_header(const struct exchange *x, const char *name, char *out,
    size_t outsz)
{
	const char *p = x->resp.headers.p, *end = p + x->resp.headers.len;
	size_t n = strlen(name);

	while (p != NULL && p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);

		assert_non_null(eol);
		if ((size_t)(eol - p) > n + 2 && strncasecmp(p, name, n) == 0 &&
		    p[n] == ':' && p[n + 1] == ' ') {
			size_t vl = (size_t)(eol - p) - n - 2;

			assert_true(vl < outsz);
			memcpy(out, p + n + 2, vl);
			out[vl] = '\0';
			return out;
		}
		p = eol + 2;
	}
	return NULL;
}

/* The body's bytes (at most outsz): a file's read with pread like
 * sendfile, or the memory the cache read them into. */
static size_t
file_body(const struct exchange *x, char *out, size_t outsz)
{
	ssize_t n;

	if (with_cache) {
		assert_int_equal(x->resp.file_fd, -1);
		assert_true(x->resp.body_len <= outsz);
		memcpy(out, x->resp.body, x->resp.body_len);
		return x->resp.body_len;
	}
	assert_true(x->resp.file_fd >= 0);
	assert_true((size_t)x->resp.file_len <= outsz);
	n = pread(x->resp.file_fd, out, (size_t)x->resp.file_len,
	    x->resp.file_offset);
	assert_int_equal(n, x->resp.file_len);
	return (size_t)n;
}

/* The body's length (of a HEAD: what Content-Length says). */
static off_t
body_length(const struct exchange *x)
{
	if (with_cache) {
		assert_int_equal(x->resp.file_fd, -1);
		return (off_t)x->resp.body_len;
	}
	assert_true(x->resp.file_fd >= 0);
	return x->resp.file_len;
}

/* Where the body starts in its file (a file body's offset; a body in
 * memory was read from there: its bytes say so). */
static void
assert_offset(const struct exchange *x, off_t off)
{
	if (!with_cache)
		assert_int_equal(x->resp.file_offset, off);
}

/* ---- pure parts -------------------------------------------------------- */

static void
test_path_decode(void **state)
{
	static const struct {
		const char *in;
		int result;
		const char *out;
	} cases[] = {
		{ "", STATIC_PATH_OK, "" },
		{ "a/b.txt", STATIC_PATH_OK, "a/b.txt" },
		{ "a/b/", STATIC_PATH_OK, "a/b" },
		{ "/etc/passwd", STATIC_PATH_OK, "etc/passwd" },
		{ "//a//b", STATIC_PATH_OK, "a/b" },
		{ "./a/./b/.", STATIC_PATH_OK, "a/b" },
		{ ".", STATIC_PATH_OK, "" },
		{ "a%20b.txt", STATIC_PATH_OK, "a b.txt" },
		{ "%41%62c", STATIC_PATH_OK, "Abc" },
		{ "%c3%a9", STATIC_PATH_OK, "\xc3\xa9" },
		{ "...", STATIC_PATH_OK, "..." },
		{ "..a/a..", STATIC_PATH_OK, "..a/a.." },
		{ "a+b", STATIC_PATH_OK, "a+b" },
		{ "..", STATIC_PATH_REFUSE, NULL },
		{ "../x", STATIC_PATH_REFUSE, NULL },
		{ "a/../x", STATIC_PATH_REFUSE, NULL },
		{ "a/../../x", STATIC_PATH_REFUSE, NULL },
		{ "a/..", STATIC_PATH_REFUSE, NULL },
		{ "a/../", STATIC_PATH_REFUSE, NULL },
		{ "%2e%2e/x", STATIC_PATH_REFUSE, NULL },
		{ "%2E%2E/x", STATIC_PATH_REFUSE, NULL },
		{ "%2E./x", STATIC_PATH_REFUSE, NULL },
		{ ".%2e/x", STATIC_PATH_REFUSE, NULL },
		{ "%2E%2E%2Fx", STATIC_PATH_REFUSE, NULL },
		{ "..%2fx", STATIC_PATH_REFUSE, NULL },
		{ "a%2fb", STATIC_PATH_REFUSE, NULL },
		{ "a%2Fb", STATIC_PATH_REFUSE, NULL },
		{ "%00", STATIC_PATH_REFUSE, NULL },
		{ "a%00.txt", STATIC_PATH_REFUSE, NULL },
		{ "a\\b", STATIC_PATH_REFUSE, NULL },
		{ "..\\x", STATIC_PATH_REFUSE, NULL },
		{ "%5c..%5cx", STATIC_PATH_REFUSE, NULL },
		{ "%", STATIC_PATH_BAD, NULL },
		{ "a%4", STATIC_PATH_BAD, NULL },
		{ "%zz", STATIC_PATH_BAD, NULL },
		{ "%g0", STATIC_PATH_BAD, NULL },
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = static_path_decode(cases[i].in, strlen(cases[i].in),
		    out, sizeof(out));

		if (r != cases[i].result)
			fail_msg("decode(\"%s\") = %d, expected %d",
			    cases[i].in, r, cases[i].result);
		if (cases[i].out != NULL)
			assert_string_equal(out, cases[i].out);
	}
}

static void
test_path_decode_bounds(void **state)
{
	char in[100], out[8];

	(void)state;
	/* exactly fits: 7 bytes and the NUL */
	assert_int_equal(static_path_decode(LIT("abc/def"), out, sizeof(out)),
	    STATIC_PATH_OK);
	assert_string_equal(out, "abc/def");
	assert_int_equal(static_path_decode(LIT("abcd/efg"), out, sizeof(out)),
	    STATIC_PATH_REFUSE);
	assert_int_equal(static_path_decode(LIT("abcdefgh"), out, sizeof(out)),
	    STATIC_PATH_REFUSE);
	/* dropped segments and separators do not count */
	assert_int_equal(static_path_decode(LIT("./././abc/./def//"), out,
	    sizeof(out)), STATIC_PATH_OK);
	assert_string_equal(out, "abc/def");
	assert_int_equal(static_path_decode(LIT("a"), out, 0),
	    STATIC_PATH_REFUSE);
	/* only len bytes are read: the escape is cut short */
	memcpy(in, "a%41", 4);
	assert_int_equal(static_path_decode(in, 3, out, sizeof(out)),
	    STATIC_PATH_BAD);
}

static void
test_range_parse(void **state)
{
	static const struct {
		const char *v;
		long long size;
		int result;
		long long start, len;
	} cases[] = {
		{ "bytes=0-0", 100, STATIC_RANGE_ONE, 0, 1 },
		{ "bytes=0-99", 100, STATIC_RANGE_ONE, 0, 100 },
		{ "bytes=10-19", 100, STATIC_RANGE_ONE, 10, 10 },
		{ "bytes=10-", 100, STATIC_RANGE_ONE, 10, 90 },
		{ "bytes=99-", 100, STATIC_RANGE_ONE, 99, 1 },
		{ "bytes=-1", 100, STATIC_RANGE_ONE, 99, 1 },
		{ "bytes=-30", 100, STATIC_RANGE_ONE, 70, 30 },
		{ "bytes=-100", 100, STATIC_RANGE_ONE, 0, 100 },
		{ "bytes=-500", 100, STATIC_RANGE_ONE, 0, 100 },
		{ "bytes=50-500", 100, STATIC_RANGE_ONE, 50, 50 },
		{ "bytes=0-99999999999999999999999", 100, STATIC_RANGE_ONE, 0,
		  100 },
		{ "bytes=-99999999999999999999999", 100, STATIC_RANGE_ONE, 0,
		  100 },
		{ "BYTES=1-2", 100, STATIC_RANGE_ONE, 1, 2 },
		{ " bytes=1-2 ", 100, STATIC_RANGE_ONE, 1, 2 },
		{ "bytes=1-2,", 100, STATIC_RANGE_ONE, 1, 2 },
		{ "bytes=, 1-2", 100, STATIC_RANGE_ONE, 1, 2 },
		{ "bytes=100-", 100, STATIC_RANGE_UNSATISFIABLE, 0, 0 },
		{ "bytes=100-200", 100, STATIC_RANGE_UNSATISFIABLE, 0, 0 },
		{ "bytes=-0", 100, STATIC_RANGE_UNSATISFIABLE, 0, 0 },
		{ "bytes=99999999999999999999999-", 100,
		  STATIC_RANGE_UNSATISFIABLE, 0, 0 },
		{ "bytes=0-1,5-6", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "bytes=0-1, 500-600", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "bytes=5-1", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "bytes=-", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "bytes=", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "bytes=a-b", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "bytes=1-2x", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "bytes=1 -2", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "bytes=+1-2", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "bytes=0-1,junk", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "bytes 0-1", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "items=0-1", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "", 100, STATIC_RANGE_NONE, 0, 0 },
		{ "bytes=0-0", 0, STATIC_RANGE_NONE, 0, 0 },
		{ "bytes=-5", 0, STATIC_RANGE_NONE, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		off_t start = -1, len = -1;
		int r = static_range_parse(cases[i].v, strlen(cases[i].v),
		    (off_t)cases[i].size, &start, &len);

		if (r != cases[i].result)
			fail_msg("range(\"%s\", %lld) = %d, expected %d",
			    cases[i].v, cases[i].size, r, cases[i].result);
		if (r == STATIC_RANGE_ONE && (start != cases[i].start ||
		    len != cases[i].len))
			fail_msg("range(\"%s\", %lld) = %lld+%lld, expected "
			    "%lld+%lld", cases[i].v, cases[i].size,
			    (long long)start, (long long)len, cases[i].start,
			    cases[i].len);
	}
}

static void
test_etag_match(void **state)
{
	const char *e = "\"5f-10\"";

	(void)state;
	assert_true(static_etag_match(LIT("\"5f-10\""), e, true));
	assert_true(static_etag_match(LIT("*"), e, true));
	assert_true(static_etag_match(LIT("*"), e, false));
	assert_true(static_etag_match(LIT("W/\"5f-10\""), e, true));
	assert_false(static_etag_match(LIT("W/\"5f-10\""), e, false));
	assert_true(static_etag_match(LIT("\"a\", \"5f-10\""), e, true));
	assert_true(static_etag_match(LIT("\"a\",W/\"5f-10\" , \"b\""), e,
	    true));
	assert_true(static_etag_match(LIT(" ,, \"5f-10\" ,"), e, true));
	/* a ',' inside a tag is part of it */
	assert_false(static_etag_match(LIT("\"5f-10,x\""), e, true));
	assert_true(static_etag_match(LIT("\"x,5f\", \"5f-10\""), e, true));
	assert_false(static_etag_match(LIT("\"5f-1\""), e, true));
	assert_false(static_etag_match(LIT("\"5f-100\""), e, true));
	assert_false(static_etag_match(LIT("5f-10"), e, true));
	assert_false(static_etag_match(LIT("\"5f-10"), e, true));
	assert_false(static_etag_match(LIT("w/\"5f-10\""), e, true));
	assert_false(static_etag_match(LIT(""), e, true));
	assert_false(static_etag_match(LIT("W/"), e, true));
	/* only len bytes count */
	assert_false(static_etag_match("\"5f-10\"", 6, e, true));
}

static void
test_etag_format(void **state)
{
	struct stat st;
	char out[48];

	(void)state;
	memset(&st, 0, sizeof(st));
	st.st_mtim.tv_sec = 1;
	st.st_mtim.tv_nsec = 5;
	st.st_size = 255;
	static_etag(&st, out, sizeof(out));
	assert_string_equal(out, "\"3b9aca05-ff\"");
	st.st_size = 256;
	assert_true(strcmp((static_etag(&st, out, sizeof(out)), out),
	    "\"3b9aca05-ff\"") != 0);
}

static void
test_mime(void **state)
{
	(void)state;
	assert_string_equal(static_mime("index.html"),
	    "text/html; charset=utf-8");
	assert_string_equal(static_mime("a/b/INDEX.HTM"),
	    "text/html; charset=utf-8");
	assert_string_equal(static_mime("x.txt"), "text/plain; charset=utf-8");
	assert_string_equal(static_mime("app.js"),
	    "text/javascript; charset=utf-8");
	assert_string_equal(static_mime("app.mjs"),
	    "text/javascript; charset=utf-8");
	assert_string_equal(static_mime("s.css"), "text/css; charset=utf-8");
	assert_string_equal(static_mime("d.json"), "application/json");
	assert_string_equal(static_mime("app.js.map"), "application/json");
	assert_string_equal(static_mime("i.svg"), "image/svg+xml");
	assert_string_equal(static_mime("i.png"), "image/png");
	assert_string_equal(static_mime("i.jpg"), "image/jpeg");
	assert_string_equal(static_mime("i.JPEG"), "image/jpeg");
	assert_string_equal(static_mime("f.woff2"), "font/woff2");
	assert_string_equal(static_mime("m.wasm"), "application/wasm");
	assert_string_equal(static_mime("v.webm"), "video/webm");
	assert_string_equal(static_mime("x.tar.gz"),
	    "application/octet-stream");
	assert_string_equal(static_mime("README"), "application/octet-stream");
	assert_string_equal(static_mime(".html"), "application/octet-stream");
	assert_string_equal(static_mime("d.html/x"),
	    "application/octet-stream");
	assert_string_equal(static_mime("x."), "application/octet-stream");
	assert_string_equal(static_mime(""), "application/octet-stream");
}

/* ---- configuration ----------------------------------------------------- */

static void
check_is(json_t *route, const char *msg)
{
	char err[512] = "";
	int r = static_check(route, err, sizeof(err));

	if (msg == NULL) {
		if (r != 0)
			fail_msg("check failed: %s", err);
	} else {
		assert_int_equal(r, -1);
		if (strcmp(err, msg) != 0)
			fail_msg("message \"%s\", expected \"%s\"", err, msg);
	}
	json_decref(route);
}

static void
test_check(void **state)
{
	char msg[512], file[320];

	(void)state;
	check_is(route_json(NULL, NULL), NULL);
	check_is(route_json("index", json_string("home.htm")), NULL);
	check_is(route_json("follow_symlinks", json_true()), NULL);
	check_is(route_json("methods", json_pack("[s]", "GET")), NULL);

	check_is(route_json("x", json_true()),
	    "unknown key \"x\" for handler static");
	check_is(json_pack("{s:s, s:s}", "path", "/s/", "handler",
	    "static"), "\"root\": required for handler static (the directory "
	    "to serve)");
	check_is(json_pack("{s:s, s:s, s:i}", "path", "/s/", "handler",
	    "static", "root", 1), "\"root\": expected a directory name");
	check_is(json_pack("{s:s, s:s, s:s}", "path", "/s/", "handler",
	    "static", "root", ""), "\"root\": expected a directory name");
	check_is(json_pack("{s:s, s:s, s:s}", "path", "/s/", "handler",
	    "static", "root", "/nonexistent/shoal"),
	    "\"root\": /nonexistent/shoal: No such file or directory");
	snprintf(file, sizeof(file), "%s/hello.txt", root);
	snprintf(msg, sizeof(msg), "\"root\": %s: Not a directory", file);
	check_is(json_pack("{s:s, s:s, s:s}", "path", "/s/", "handler",
	    "static", "root", file), msg);

	snprintf(msg, sizeof(msg), "\"index\": expected a file name (no '/'), "
	    "like \"index.html\"");
	check_is(route_json("index", json_string("a/b.html")), msg);
	check_is(route_json("index", json_string("")), msg);
	check_is(route_json("index", json_string("..")), msg);
	check_is(route_json("index", json_stringn("a\0b", 3)), msg);
	check_is(route_json("index", json_integer(1)), msg);
	check_is(route_json("follow_symlinks", json_string("yes")),
	    "\"follow_symlinks\": expected true or false");
	check_is(json_string("x"), "a route must be a JSON object");
}

static void
test_init_free(void **state)
{
	json_t *r = json_pack("{s:s, s:s, s:s}", "path", "/s/", "handler",
	    "static", "root", "/nonexistent/shoal");
	char err[256] = "";
	void *st = NULL;
	int before = count_fds();

	(void)state;
	assert_int_equal(static_init(r, &st, err, sizeof(err)), -1);
	assert_string_equal(err,
	    "\"root\": /nonexistent/shoal: No such file or directory");
	assert_null(st);
	json_decref(r);

	r = route_json("index", json_string("home.htm"));
	assert_int_equal(static_init(r, &st, err, sizeof(err)), 0);
	assert_non_null(st);
	assert_string_equal(((struct static_route *)st)->index, "home.htm");
	assert_int_equal(count_fds(), before + 1);
	static_free(st);
	static_free(NULL);
	assert_int_equal(count_fds(), before);
	json_decref(r);
}

/* ---- the handler ------------------------------------------------------- */

static void
test_get_head(void **state)
{
	struct static_route *sr = route_new(false, true);
	struct exchange x;
	char body[2048], v[128];
	struct stat st;
	char path[PATH_MAX];

	(void)state;
	exchange_run(&x, sr, "GET", "/static/hello.txt", NULL);
	assert_int_equal(x.resp.status, 200);
	assert_string_equal(x.resp.content_type, "text/plain; charset=utf-8");
	assert_offset(&x, 0);
	assert_int_equal(file_body(&x, body, sizeof(body)), 15);
	assert_memory_equal(body, "Hello, static!\n", 15);
	assert_non_null(resp_header(&x, "Accept-Ranges", v, sizeof(v)));
	assert_string_equal(v, "bytes");
	assert_non_null(resp_header(&x, "ETag", v, sizeof(v)));
	snprintf(path, sizeof(path), "%s/hello.txt", root);
	assert_int_equal(stat(path, &st), 0);
	{
		char e[48];

		static_etag(&st, e, sizeof(e));
		assert_string_equal(v, e);
		http_date_format(st.st_mtim.tv_sec, e, sizeof(e));
		assert_non_null(resp_header(&x, "Last-Modified", v, sizeof(v)));
		assert_string_equal(v, e);
	}
	assert_null(resp_header(&x, "Content-Range", v, sizeof(v)));
	exchange_done(&x);

	exchange_run(&x, sr, "HEAD", "/static/data.bin", NULL);
	assert_int_equal(x.resp.status, 200);
	assert_string_equal(x.resp.content_type, "application/octet-stream");
	assert_int_equal(body_length(&x), 1024);
	exchange_done(&x);

	/* HEAD ignores Range (defined for GET only) */
	exchange_run(&x, sr, "HEAD", "/static/data.bin", "Range", "bytes=0-9",
	    NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(body_length(&x), 1024);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/a%20b.txt?x=1", NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(body_length(&x), 5);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/empty.txt", "Range", "bytes=0-",
	    NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(body_length(&x), 0);
	exchange_done(&x);

	static_free(sr);
}

static void
test_method(void **state)
{
	struct static_route *sr = route_new(false, true);
	static const char *const methods[] = { "POST", "PUT", "DELETE",
	    "OPTIONS", "PATCH", "get" };
	struct exchange x;
	char v[64];

	(void)state;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		exchange_run(&x, sr, methods[i], "/static/hello.txt", NULL);
		assert_int_equal(x.resp.status, 405);
		assert_non_null(resp_header(&x, "Allow", v, sizeof(v)));
		assert_string_equal(v, "GET, HEAD");
		assert_int_equal(x.resp.file_fd, -1);
		exchange_done(&x);
	}
	static_free(sr);
}

static void
test_directories(void **state)
{
	struct static_route *sr = route_new(false, true);
	struct exchange x;
	char body[64], v[256];

	(void)state;
	exchange_run(&x, sr, "GET", "/static/sub/", NULL);
	assert_int_equal(x.resp.status, 200);
	assert_string_equal(x.resp.content_type, "text/html; charset=utf-8");
	assert_int_equal(file_body(&x, body, sizeof(body)), 13);
	assert_memory_equal(body, "<h1>sub</h1>\n", 13);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/sub", NULL);
	assert_int_equal(x.resp.status, 301);
	assert_non_null(resp_header(&x, "Location", v, sizeof(v)));
	assert_string_equal(v, "/static/sub/");
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/sub/deeper?a=b&c", NULL);
	assert_int_equal(x.resp.status, 301);
	assert_non_null(resp_header(&x, "Location", v, sizeof(v)));
	assert_string_equal(v, "/static/sub/deeper/?a=b&c");
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/sub/deeper/", NULL);
	assert_int_equal(x.resp.status, 404);       /* no index.html */
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/noindex/", NULL);
	assert_int_equal(x.resp.status, 404);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/sub/deeper/x.css", NULL);
	assert_int_equal(x.resp.status, 200);
	assert_string_equal(x.resp.content_type, "text/css; charset=utf-8");
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/hello.txt/", NULL);
	assert_int_equal(x.resp.status, 404);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/hello.txt/x", NULL);
	assert_int_equal(x.resp.status, 404);
	exchange_done(&x);

	/* the root itself has no index.html */
	exchange_run(&x, sr, "GET", "/static/", NULL);
	assert_int_equal(x.resp.status, 404);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/missing.txt", NULL);
	assert_int_equal(x.resp.status, 404);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/fifo", NULL);
	assert_int_equal(x.resp.status, 404);
	exchange_done(&x);

	/* not under the route's path at all */
	exchange_run(&x, sr, "GET", "/other/hello.txt", NULL);
	assert_int_equal(x.resp.status, 404);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/%zz", NULL);
	assert_int_equal(x.resp.status, 400);
	exchange_done(&x);

	if (geteuid() != 0) {
		exchange_run(&x, sr, "GET", "/static/secret.txt", NULL);
		assert_int_equal(x.resp.status, 403);
		assert_int_equal(x.resp.file_fd, -1);
		exchange_done(&x);
	}
	static_free(sr);
}

/* A route "/" with a directory named like a host: no open redirect. */
static void
test_redirect_no_network_path(void **state)
{
	struct static_route *sr = route_new(false, true);
	struct exchange x;
	char v[256];

	(void)state;
	memset(&x, 0, sizeof(x));
	x.req.method = "GET";
	x.req.path = "//sub";
	x.req.path_len = 5;
	x.req.route_path = "/";
	x.resp.file_fd = -1;
	static_handle(&x.req, &x.resp, sr);
	assert_int_equal(x.resp.status, 301);
	assert_non_null(resp_header(&x, "Location", v, sizeof(v)));
	assert_string_equal(v, "/sub/");
	exchange_done(&x);
	static_free(sr);
}

/* Every way out of the root, in both opening modes: never a file body
 * from outside, never anything but 403/404 (or 400 for a bad escape). */
static void
traversal(bool openat2)
{
	struct static_route *sr = route_new(false, openat2);
	static const char *const attempts[] = {
		"/static/../outside.txt", "/static/%2e%2e/outside.txt",
		"/static/%2E%2E%2Foutside.txt", "/static/..%2foutside.txt",
		"/static/sub/../../outside.txt", "/static/%2E./outside.txt",
		"/static/hello.txt%00.png", "/static/..\\outside.txt",
		"/static/%5c..%5coutside.txt", "/static/link-out",
		"/static/link-abs", "/static/linkup/outside.txt",
		"/static/linkup/", "/static//etc/passwd", "/static/link-in",
		"/static/linkdir/", "/static/linkdir/index.html",
		"/static/linkup",
	};
	struct exchange x;

	for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		exchange_run(&x, sr, "GET", attempts[i], NULL);
		if (x.resp.status != 404 && x.resp.status != 403)
			fail_msg("%s (%s) -> %d", attempts[i],
			    openat2 ? "openat2" : "walk", x.resp.status);
		assert_int_equal(x.resp.file_fd, -1);
		exchange_done(&x);
	}
	static_free(sr);
}

static void
test_traversal_openat2(void **state)
{
	struct static_route *sr = route_new(false, true);
	bool have = sr->have_openat2;

	(void)state;
	static_free(sr);
	if (!have)
		skip();
	traversal(true);
}

static void
test_traversal_walk(void **state)
{
	(void)state;
	traversal(false);
}

/* follow_symlinks: true follows every symlink, out of the root too; the
 * path itself still cannot climb. */
static void
test_follow_symlinks(void **state)
{
	struct static_route *sr = route_new(true, true);
	struct exchange x;
	char body[64];

	(void)state;
	exchange_run(&x, sr, "GET", "/static/link-in", NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(file_body(&x, body, sizeof(body)), 15);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/linkdir/", NULL);
	assert_int_equal(x.resp.status, 200);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/link-out", NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(file_body(&x, body, sizeof(body)), 11);
	assert_memory_equal(body, "TOP SECRET\n", 11);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/../outside.txt", NULL);
	assert_int_equal(x.resp.status, 404);
	exchange_done(&x);
	static_free(sr);
}

static void
test_conditional(void **state)
{
	struct static_route *sr = route_new(false, true);
	struct exchange x;
	char etag[64], lm[64], weak[80], v[64];

	(void)state;
	exchange_run(&x, sr, "GET", "/static/hello.txt", NULL);
	assert_non_null(resp_header(&x, "ETag", etag, sizeof(etag)));
	assert_non_null(resp_header(&x, "Last-Modified", lm, sizeof(lm)));
	exchange_done(&x);
	snprintf(weak, sizeof(weak), "\"x\", W/%s", etag);

	exchange_run(&x, sr, "GET", "/static/hello.txt", "If-None-Match",
	    etag, NULL);
	assert_int_equal(x.resp.status, 304);
	assert_int_equal(x.resp.file_fd, -1);
	assert_int_equal(x.resp.body_len, 0);
	assert_null(x.resp.content_type);
	assert_non_null(resp_header(&x, "ETag", v, sizeof(v)));
	assert_string_equal(v, etag);
	exchange_done(&x);

	exchange_run(&x, sr, "HEAD", "/static/hello.txt", "If-None-Match",
	    weak, NULL);
	assert_int_equal(x.resp.status, 304);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/hello.txt", "If-None-Match", "*",
	    NULL);
	assert_int_equal(x.resp.status, 304);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/hello.txt", "If-None-Match",
	    "\"other\"", NULL);
	assert_int_equal(x.resp.status, 200);
	exchange_done(&x);

	/* If-None-Match wins over If-Modified-Since */
	exchange_run(&x, sr, "GET", "/static/hello.txt", "If-None-Match",
	    "\"other\"", "If-Modified-Since", lm, NULL);
	assert_int_equal(x.resp.status, 200);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/hello.txt", "If-Modified-Since",
	    lm, NULL);
	assert_int_equal(x.resp.status, 304);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/hello.txt", "If-Modified-Since",
	    "Thu, 01 Jan 1970 00:00:00 GMT", NULL);
	assert_int_equal(x.resp.status, 200);
	exchange_done(&x);

	/* in the future: invalid, ignored */
	exchange_run(&x, sr, "GET", "/static/hello.txt", "If-Modified-Since",
	    "Fri, 01 Jan 2100 00:00:00 GMT", NULL);
	assert_int_equal(x.resp.status, 200);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/hello.txt", "If-Modified-Since",
	    "garbage", NULL);
	assert_int_equal(x.resp.status, 200);
	exchange_done(&x);

	/* If-Match and If-Unmodified-Since */
	exchange_run(&x, sr, "GET", "/static/hello.txt", "If-Match", etag,
	    NULL);
	assert_int_equal(x.resp.status, 200);
	exchange_done(&x);
	exchange_run(&x, sr, "GET", "/static/hello.txt", "If-Match",
	    "\"nope\"", NULL);
	assert_int_equal(x.resp.status, 412);
	assert_int_equal(x.resp.file_fd, -1);
	exchange_done(&x);
	exchange_run(&x, sr, "GET", "/static/hello.txt",
	    "If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT", NULL);
	assert_int_equal(x.resp.status, 412);
	exchange_done(&x);
	exchange_run(&x, sr, "GET", "/static/hello.txt",
	    "If-Unmodified-Since", lm, NULL);
	assert_int_equal(x.resp.status, 200);
	exchange_done(&x);
	static_free(sr);
}

static void
test_ranges(void **state)
{
	struct static_route *sr = route_new(false, true);
	struct exchange x;
	char body[2048], v[64], etag[64], lm[64];

	(void)state;
	exchange_run(&x, sr, "GET", "/static/data.bin", "Range", "bytes=10-19",
	    NULL);
	assert_int_equal(x.resp.status, 206);
	assert_offset(&x, 10);
	assert_int_equal(file_body(&x, body, sizeof(body)), 10);
	assert_int_equal((unsigned char)body[0], 10);
	assert_int_equal((unsigned char)body[9], 19);
	assert_non_null(resp_header(&x, "Content-Range", v, sizeof(v)));
	assert_string_equal(v, "bytes 10-19/1024");
	assert_non_null(resp_header(&x, "ETag", etag, sizeof(etag)));
	assert_non_null(resp_header(&x, "Last-Modified", lm, sizeof(lm)));
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/data.bin", "Range", "bytes=1000-",
	    NULL);
	assert_int_equal(x.resp.status, 206);
	assert_non_null(resp_header(&x, "Content-Range", v, sizeof(v)));
	assert_string_equal(v, "bytes 1000-1023/1024");
	assert_int_equal(body_length(&x), 24);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/data.bin", "Range", "bytes=-4",
	    NULL);
	assert_int_equal(x.resp.status, 206);
	assert_non_null(resp_header(&x, "Content-Range", v, sizeof(v)));
	assert_string_equal(v, "bytes 1020-1023/1024");
	assert_int_equal(file_body(&x, body, sizeof(body)), 4);
	assert_int_equal((unsigned char)body[3], 255);
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/data.bin", "Range",
	    "bytes=1024-", NULL);
	assert_int_equal(x.resp.status, 416);
	assert_int_equal(x.resp.file_fd, -1);
	assert_non_null(resp_header(&x, "Content-Range", v, sizeof(v)));
	assert_string_equal(v, "bytes */1024");
	exchange_done(&x);

	exchange_run(&x, sr, "GET", "/static/data.bin", "Range",
	    "bytes=0-1,5-6", NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(body_length(&x), 1024);
	assert_null(resp_header(&x, "Content-Range", v, sizeof(v)));
	exchange_done(&x);

	/* If-Range: a matching validator lets the range apply */
	exchange_run(&x, sr, "GET", "/static/data.bin", "Range", "bytes=0-0",
	    "If-Range", etag, NULL);
	assert_int_equal(x.resp.status, 206);
	exchange_done(&x);
	exchange_run(&x, sr, "GET", "/static/data.bin", "Range", "bytes=0-0",
	    "If-Range", lm, NULL);
	assert_int_equal(x.resp.status, 206);
	exchange_done(&x);
	exchange_run(&x, sr, "GET", "/static/data.bin", "Range", "bytes=0-0",
	    "If-Range", "\"stale\"", NULL);
	assert_int_equal(x.resp.status, 200);
	assert_int_equal(body_length(&x), 1024);
	exchange_done(&x);
	snprintf(body, sizeof(body), "W/%s", etag);
	exchange_run(&x, sr, "GET", "/static/data.bin", "Range", "bytes=0-0",
	    "If-Range", body, NULL);
	assert_int_equal(x.resp.status, 200);
	exchange_done(&x);
	exchange_run(&x, sr, "GET", "/static/data.bin", "Range", "bytes=0-0",
	    "If-Range", "Thu, 01 Jan 1970 00:00:00 GMT", NULL);
	assert_int_equal(x.resp.status, 200);
	exchange_done(&x);
	static_free(sr);
}

/* Under a low RLIMIT_NOFILE: many requests of every kind leave no fd
 * behind (a leak would soon turn them into 503s), and with no fd left at
 * all the answer is 503, not a crash. */
static void
test_no_fd_leak(void **state)
{
	static const char *const targets[] = {
		"/static/hello.txt", "/static/sub/", "/static/sub",
		"/static/missing", "/static/noindex/", "/static/link-out",
		"/static/../x", "/static/fifo", "/static/hello.txt/",
		"/static/secret.txt", "/static/sub/deeper/",
	};
	struct static_route *srs[2] = { route_new(false, true),
	    route_new(false, false) };
	struct rlimit old, low;
	struct exchange x;
	int before = count_fds(), fill[32], held;
	size_t nfill;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)before + 16;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (int round = 0; round < 50; round++) {
		for (size_t m = 0; m < 2; m++) {
			for (size_t i = 0; i < sizeof(targets) /
			    sizeof(targets[0]); i++) {
				exchange_run(&x, srs[m], "GET", targets[i],
				    "Range", round % 2 ? "bytes=0-1" :
				    "bytes=99999-", NULL);
				assert_int_not_equal(x.resp.status, 503);
				exchange_done(&x);
			}
			exchange_run(&x, srs[m], "GET", "/static/data.bin",
			    "If-None-Match", "*", NULL);
			assert_int_equal(x.resp.status, 304);
			exchange_done(&x);
		}
	}
	/* the cache's files are open, and no other */
	held = with_cache ? (int)(filecache_size(srs[0]->cache) +
	    filecache_size(srs[1]->cache)) : 0;
	assert_true(!with_cache || held > 0);
	assert_int_equal(count_fds(), before + held);

	/* no fd left: 503 */
	for (nfill = 0; nfill < sizeof(fill) / sizeof(fill[0]); nfill++)
		if ((fill[nfill] = dup(0)) == -1)
			break;
	assert_int_equal(errno, EMFILE);
	for (size_t m = 0; m < 2; m++) {
		exchange_run(&x, srs[m], "GET", "/static/sub/deeper/x.css",
		    NULL);
		assert_int_equal(x.resp.status, 503);
		exchange_done(&x);
	}
	while (nfill > 0)
		close(fill[--nfill]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(count_fds(), before + held);
	static_free(srs[0]);
	static_free(srs[1]);
	/* all closed: the cache's files and each route's root */
	assert_int_equal(count_fds(), before - 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_decode),
		cmocka_unit_test(test_path_decode_bounds),
		cmocka_unit_test(test_range_parse),
		cmocka_unit_test(test_etag_match),
		cmocka_unit_test(test_etag_format),
		cmocka_unit_test(test_mime),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_init_free),
		cmocka_unit_test(test_get_head),
		cmocka_unit_test(test_method),
		cmocka_unit_test(test_directories),
		cmocka_unit_test(test_redirect_no_network_path),
		cmocka_unit_test(test_traversal_openat2),
		cmocka_unit_test(test_traversal_walk),
		cmocka_unit_test(test_follow_symlinks),
		cmocka_unit_test(test_conditional),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_no_fd_leak),
	};

	int failed;

	with_cache = false;
	failed = cmocka_run_group_tests_name("static, files sent with sendfile",
	    tests, group_setup, group_teardown);
	with_cache = true;
	return failed + cmocka_run_group_tests_name("static, small files "
	    "from the cache", tests, group_setup, group_teardown);
}
