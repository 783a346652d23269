/* fuzz_l2: what infrafs reads back from Redis and from -o redis, on
 * arbitrary bytes. Redis is shared: anything in it may have been written
 * by another program, another version, or someone hostile.
 *
 * The first byte picks what the rest is:
 *   0: an entry read under a fixed key: l2_format_decode() either refuses
 *      it or accepts a payload inside the input that encodes back to
 *      exactly the input (the format has one spelling per entry);
 *   1: a payload: encoding then decoding it gives it back, and flipping
 *      any one byte of the entry makes it refused;
 *   2: an invalidation message: parsed patterns lie inside the input;
 *   3: a -o redis URL: parsing never quotes the password in its error,
 *      and the masked form of an accepted URL parses to the same host,
 *      port, database and user, with no password but "***". */
#include "fuzz_common.h"
#include "infrafs/l2_format.h"
#include "infrafs/redis_url.h"

#define KEY "infrafs:1:0123456789abcdef:data:servers:gpu-1"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup_logging();
	return 0;
}

static void check_entry(const char *data, size_t size)
{
	struct l2_entry entry;

	if (!l2_format_decode(KEY, data, size, &entry, NULL))
		return;
	FUZZ_CHECK(entry.payload >= data && entry.payload + entry.payload_len == data + size,
		   "payload outside the entry");
	g_autoptr(GBytes) again = l2_format_encode(KEY, entry.epoch, entry.fetched_wall_us,
						   entry.payload, entry.payload_len);

	FUZZ_CHECK(g_bytes_get_size(again) == size &&
			   memcmp(g_bytes_get_data(again, NULL), data, size) == 0,
		   "an accepted entry has a second spelling");
}

static void check_payload(const char *data, size_t size)
{
	g_autoptr(GBytes) bytes = l2_format_encode(KEY, 7, 1700000000000000, data, size);
	gsize len = 0;
	const char *encoded = g_bytes_get_data(bytes, &len);
	struct l2_entry entry;

	FUZZ_CHECK(l2_format_decode(KEY, encoded, len, &entry, NULL), "own entry refused");
	FUZZ_CHECK(entry.payload_len == size && memcmp(entry.payload, data, size) == 0,
		   "payload changed on the way");
	/* Flip one byte, chosen by the payload, so every position gets its turn. */
	gsize position = (size ? (guchar)data[0] * 257u + size : 0) % len;
	g_autofree char *damaged = g_memdup2(encoded, len);

	damaged[position] ^= 0x20;
	FUZZ_CHECK(!l2_format_decode(KEY, damaged, len, &entry, NULL),
		   "a flipped byte at %zu went unnoticed", (size_t)position);
}

static void check_message(const char *data, size_t size)
{
	g_autofree char *origin = NULL;
	const char *patterns = NULL;
	gsize len = 0;

	if (!l2_format_parse_message(data, size, &origin, &patterns, &len))
		return;
	FUZZ_CHECK(patterns >= data && patterns + len == data + size, "patterns outside");
	FUZZ_CHECK(*origin != '\0' && strchr(origin, ' ') == NULL, "bad origin");
}

static void check_url(const char *data, size_t size)
{
	g_autofree char *text = g_strndup(data, size);
	struct redis_url url = { 0 };
	g_autoptr(GError) error = NULL;

	if (!redis_url_parse(text, &url, &error)) {
		FUZZ_CHECK(error != NULL, "no error");
		return;
	}
	g_autofree char *masked = redis_url_masked(&url);
	struct redis_url again = { 0 };

	FUZZ_CHECK(redis_url_parse(masked, &again, NULL), "masked form \"%s\" refused",
		   fuzz_shown(masked));
	FUZZ_CHECK(g_strcmp0(again.host, url.host) == 0 && again.port == url.port &&
			   again.db == url.db && g_strcmp0(again.username, url.username) == 0,
		   "masked form \"%s\" names another server", fuzz_shown(masked));
	FUZZ_CHECK((url.password == NULL) == (again.password == NULL) &&
			   (again.password == NULL || strcmp(again.password, "***") == 0),
		   "masked form \"%s\" shows a password", fuzz_shown(masked));
	redis_url_clear(&again);
	redis_url_clear(&url);
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
	if (size == 0)
		return 0;
	const char *data = (const char *)bytes + 1;

	size--;
	switch (bytes[0] % 4) {
	case 0:
		check_entry(data, size);
		break;
	case 1:
		check_payload(data, size);
		break;
	case 2:
		check_message(data, size);
		break;
	default:
		check_url(data, size);
		break;
	}
	return 0;
}
