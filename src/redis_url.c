/* redis_url: parsing and masking of redis:// URLs (see infrafs/redis_url.h). */
#include "infrafs/redis_url.h"

#include <hiredis/hiredis.h>
#include <string.h>

#include "infrafs/errors.h"

/* The highest database number accepted; Redis itself decides what exists. */
#define REDIS_URL_MAX_DB 1000000

static gboolean fail(GError **error, const char *problem)
{
	g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
		    "expected redis://[user:password@]host[:port][/db]: %s", problem);
	return FALSE;
}

static gboolean is_host_char(char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_';
}

/* Digits only, from `min` to `max`. */
static gboolean parse_number(const char *text, guint min, guint max, guint *value)
{
	guint64 number = 0;

	if (*text == '\0' || strlen(text) > 7)
		return FALSE;
	for (const char *p = text; *p; p++) {
		if (!g_ascii_isdigit(*p))
			return FALSE;
		number = number * 10 + (guint64)(*p - '0');
	}
	if (number < min || number > max)
		return FALSE;
	*value = (guint)number;
	return TRUE;
}

/* Percent-decoded `text`, or NULL when it decodes to nothing usable. */
static char *decode_part(const char *text, gsize len)
{
	g_autofree char *raw = g_strndup(text, len);

	/* No NUL and no control character may come out of the decoding. */
	return g_uri_unescape_string(raw, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c"
					  "\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18"
					  "\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f");
}

static gboolean parse_userinfo(const char *text, gsize len, struct redis_url *url,
			       GError **error)
{
	const char *colon = memchr(text, ':', len);
	gsize user_len = colon ? (gsize)(colon - text) : len;

	if (user_len > 0) {
		url->username = decode_part(text, user_len);
		if (url->username == NULL || *url->username == '\0')
			return fail(error, "the user name has a bad percent-encoding");
	}
	if (colon != NULL) {
		gsize pass_len = len - user_len - 1;

		url->password = decode_part(colon + 1, pass_len);
		if (url->password == NULL)
			return fail(error, "the password has a bad percent-encoding");
		if (*url->password == '\0')
			g_clear_pointer(&url->password, g_free);
	}
	return TRUE;
}

static gboolean parse_host_port(const char *text, struct redis_url *url, GError **error)
{
	const char *port_text = NULL;

	if (*text == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close == text + 1)
			return fail(error, "an IPv6 address needs its closing ']'");
		for (const char *p = text + 1; p < close; p++)
			if (!g_ascii_isxdigit(*p) && *p != ':' && *p != '.')
				return fail(error, "bad character in the IPv6 address");
		url->host = g_strndup(text + 1, (gsize)(close - text - 1));
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0')
			return fail(error, "unexpected text after the IPv6 address");
	} else {
		const char *colon = strchr(text, ':');
		gsize host_len = colon ? (gsize)(colon - text) : strlen(text);

		for (gsize i = 0; i < host_len; i++)
			if (!is_host_char(text[i]))
				return fail(error, "bad character in the host name");
		url->host = g_strndup(text, host_len);
		port_text = colon ? colon + 1 : NULL;
	}
	if (*url->host == '\0')
		return fail(error, "no host");
	url->port = REDIS_URL_DEFAULT_PORT;
	if (port_text != NULL && !parse_number(port_text, 1, 65535, &url->port))
		return fail(error, "the port must be a number from 1 to 65535");
	return TRUE;
}

gboolean redis_url_parse(const char *text, struct redis_url *url, GError **error)
{
	struct redis_url parsed = { 0 };
	const char *rest;

	if (text == NULL || *text == '\0')
		return fail(error, "empty");
	if (g_ascii_strncasecmp(text, "rediss://", 9) == 0) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
			    "rediss:// (Redis over TLS) is not supported: this build's hiredis "
			    "(%d.%d) has no TLS support, which needs hiredis 1.0 or later with "
			    "hiredis_ssl; use redis:// on a trusted network or through a TLS "
			    "tunnel such as stunnel",
			    HIREDIS_MAJOR, HIREDIS_MINOR);
		return FALSE;
	}
	if (g_ascii_strncasecmp(text, "redis://", 8) != 0)
		return fail(error, "the scheme must be redis://");
	rest = text + 8;
	for (const char *p = rest; *p; p++)
		if ((guchar)*p <= 0x20 || *p == 0x7f)
			return fail(error, "spaces and control characters are not allowed");
	if (strpbrk(rest, "?#") != NULL)
		return fail(error, "query strings and fragments are not supported");

	const char *slash = strchr(rest, '/');
	g_autofree char *authority = slash ? g_strndup(rest, (gsize)(slash - rest)) : g_strdup(rest);
	/* The password may hold '@': the host starts after the last one. */
	const char *at = strrchr(authority, '@');
	gboolean ok = TRUE;

	if (at != NULL)
		ok = parse_userinfo(authority, (gsize)(at - authority), &parsed, error);
	ok = ok && parse_host_port(at ? at + 1 : authority, &parsed, error);
	if (ok && slash != NULL && slash[1] != '\0' &&
	    !parse_number(slash + 1, 0, REDIS_URL_MAX_DB, &parsed.db))
		ok = fail(error, "the database must be a number after the '/'");
	if (!ok) {
		redis_url_clear(&parsed);
		return FALSE;
	}
	redis_url_clear(url);
	*url = parsed;
	return TRUE;
}

void redis_url_clear(struct redis_url *url)
{
	if (url->password != NULL)
		memset(url->password, 0, strlen(url->password));
	g_clear_pointer(&url->password, g_free);
	g_clear_pointer(&url->username, g_free);
	g_clear_pointer(&url->host, g_free);
	url->port = 0;
	url->db = 0;
}

char *redis_url_masked(const struct redis_url *url)
{
	gboolean ipv6 = url->host != NULL && strchr(url->host, ':') != NULL;
	g_autofree char *user =
		url->username ? g_uri_escape_string(url->username, NULL, FALSE) : g_strdup("");

	return g_strdup_printf("redis://%s%s%s%s%s%s:%u/%u", user, url->password ? ":***" : "",
			       url->username || url->password ? "@" : "", ipv6 ? "[" : "",
			       url->host ? url->host : "", ipv6 ? "]" : "", url->port, url->db);
}
