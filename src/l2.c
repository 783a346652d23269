/* l2: hiredis connections, commands and the invalidation listener (see
 * infrafs/l2.h). */
#include "infrafs/l2.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "infrafs/clock.h"
#include "infrafs/l2_format.h"

#define L2_BACKOFF_FIRST_US (100 * 1000)
#define L2_BACKOFF_MAX_US (5 * G_USEC_PER_SEC)
/* The largest entry stored or read. */
#define L2_MAX_ENTRY_BYTES (256u * 1024 * 1024)
/* How often an idle listener looks whether it should probe Redis. */
#define L2_LISTENER_TICK_MS 1000
/* Idle connections kept for reuse; more may be open while busy. */
#define L2_MAX_IDLE 16

/* An entry and its class's epoch in one round trip: {size, entry or nil,
 * epoch}. A class without an epoch (new, or its key lost to eviction or a
 * restart) gets ARGV[3], so nothing stored before is valid. The entry is
 * left out when only the epoch is asked for (ARGV[1] = 0) or when it is
 * larger than ARGV[2] bytes, so that a hostile or broken writer cannot
 * make a mount read gigabytes. */
static const char lookup_script[] =
	"local epoch = redis.call('get', KEYS[2]) "
	"if not epoch then epoch = ARGV[3] redis.call('set', KEYS[2], epoch) end "
	"local size = redis.call('strlen', KEYS[1]) "
	"if ARGV[1] == '0' or size > tonumber(ARGV[2]) then return {size, false, epoch} end "
	"return {size, redis.call('get', KEYS[1]), epoch}";

/* Deletes the lock only while it still holds our token. */
static const char unlock_script[] =
	"if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
	"else return 0 end";

struct l2 {
	struct redis_url url;
	char *masked_url;
	char *scope;
	char *class_tags[CLASS_COUNT];
	char *channel;
	char *origin;               /* names this mount in its messages and lock tokens */
	guint timeout_ms;
	struct error_log *error_log; /* borrowed */

	GMutex lock;                /* guards everything below but the listener's */
	GQueue idle;                /* redisContext*, ready for a command */
	gboolean down;              /* in an outage: no command until retry_at */
	gint64 retry_at_mono_us;
	gint64 backoff_us;
	struct l2_counts counts;
	guint64 next_token;
	gboolean subscribed;        /* the listener holds a live subscription */
	gboolean refusal_reported;  /* a refused SUBSCRIBE was logged */

	/* The listener. */
	GThread *listener;
	GMutex listener_lock;       /* guards the three below */
	GCond listener_wake;
	gboolean stopping;
	redisContext *listener_context; /* shut down by l2_free() to wake the thread */
	l2_invalidation_fn on_invalidation;
	gpointer on_invalidation_data;
};

struct l2 *l2_new(const struct redis_url *url, const char *scope, const char *netbox_url,
		  guint timeout_ms, struct error_log *error_log)
{
	struct l2 *l2 = g_new0(struct l2, 1);

	l2->url.host = g_strdup(url->host);
	l2->url.port = url->port;
	l2->url.db = url->db;
	l2->url.username = g_strdup(url->username);
	l2->url.password = g_strdup(url->password);
	l2->masked_url = redis_url_masked(url);
	l2->scope = g_strdup(scope);
	for (int c = 0; c < CLASS_COUNT; c++)
		l2->class_tags[c] = l2_format_class_tag((enum data_class)c, netbox_url);
	l2->channel = l2_format_channel(scope);
	l2->origin = g_strdup_printf("%08x%08x", g_random_int(), g_random_int());
	l2->timeout_ms = timeout_ms;
	l2->error_log = error_log;
	l2->backoff_us = L2_BACKOFF_FIRST_US;
	g_mutex_init(&l2->lock);
	g_mutex_init(&l2->listener_lock);
	g_cond_init(&l2->listener_wake);
	return l2;
}

void l2_stop(struct l2 *l2)
{
	if (l2->listener == NULL)
		return;
	g_mutex_lock(&l2->listener_lock);
	l2->stopping = TRUE;
	/* A blocked read returns once its socket is shut down. */
	if (l2->listener_context != NULL)
		shutdown(l2->listener_context->fd, SHUT_RDWR);
	g_cond_broadcast(&l2->listener_wake);
	g_mutex_unlock(&l2->listener_lock);
	g_thread_join(g_steal_pointer(&l2->listener));
}

void l2_free(struct l2 *l2)
{
	if (l2 == NULL)
		return;
	l2_stop(l2);
	redisContext *context;

	while ((context = g_queue_pop_head(&l2->idle)) != NULL)
		redisFree(context);
	for (int c = 0; c < CLASS_COUNT; c++)
		g_free(l2->class_tags[c]);
	g_free(l2->channel);
	g_free(l2->origin);
	g_free(l2->scope);
	g_free(l2->masked_url);
	redis_url_clear(&l2->url);
	g_mutex_clear(&l2->lock);
	g_mutex_clear(&l2->listener_lock);
	g_cond_clear(&l2->listener_wake);
	g_free(l2);
}

const char *l2_url_masked(const struct l2 *l2)
{
	return l2->masked_url;
}

static struct timeval timeval_of_ms(guint ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return tv;
}

/* Run one command on `context`; a NULL reply means the connection broke. */
static redisReply *command_on(redisContext *context, int argc, const char **argv,
			      const size_t *lens)
{
	return redisCommandArgv(context, argc, argv, lens);
}

/* AUTH and SELECT on a new connection. */
static gboolean handshake(struct l2 *l2, redisContext *context, GError **error)
{
	if (l2->url.password != NULL) {
		const char *argv[3] = { "AUTH" };
		size_t lens[3] = { 4 };
		int argc = 1;

		if (l2->url.username != NULL) {
			argv[argc] = l2->url.username;
			lens[argc++] = strlen(l2->url.username);
		}
		argv[argc] = l2->url.password;
		lens[argc++] = strlen(l2->url.password);
		redisReply *reply = command_on(context, argc, argv, lens);

		/* Redis's own message names neither user nor password. */
		if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_AUTH,
				    "%s: authentication failed: %s", l2->masked_url,
				    reply ? reply->str : context->errstr);
			if (reply != NULL)
				freeReplyObject(reply);
			return FALSE;
		}
		freeReplyObject(reply);
	}
	if (l2->url.db != 0) {
		g_autofree char *db = g_strdup_printf("%u", l2->url.db);
		const char *argv[2] = { "SELECT", db };
		size_t lens[2] = { 6, strlen(db) };
		redisReply *reply = command_on(context, 2, argv, lens);

		if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE,
				    "%s: SELECT failed: %s", l2->masked_url,
				    reply ? reply->str : context->errstr);
			if (reply != NULL)
				freeReplyObject(reply);
			return FALSE;
		}
		freeReplyObject(reply);
	}
	return TRUE;
}

/* A new connection, ready for commands, or NULL and why. */
static redisContext *connect_to_redis(struct l2 *l2, GError **error)
{
	struct timeval timeout = timeval_of_ms(l2->timeout_ms);
	redisContext *context = redisConnectWithTimeout(l2->url.host, (int)l2->url.port, timeout);

	if (context == NULL || context->err) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE, "%s: %s",
			    l2->masked_url, context ? context->errstr : "out of memory");
		if (context != NULL)
			redisFree(context);
		return NULL;
	}
	if (redisSetTimeout(context, timeout) != REDIS_OK || !handshake(l2, context, error)) {
		if (error != NULL && *error == NULL)
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE,
				    "%s: %s", l2->masked_url, context->errstr);
		redisFree(context);
		return NULL;
	}
	redisEnableKeepAlive(context);
	return context;
}

/* A failure: the first of an outage is logged and recorded; until the
 * backoff passes, commands are not tried. Lock held. */
static void note_failure_locked(struct l2 *l2, const GError *error)
{
	gint64 now_us = clock_mono_us();

	l2->counts.errors++;
	l2->counts.connected = FALSE;
	if (!l2->down) {
		l2->down = TRUE;
		l2->backoff_us = L2_BACKOFF_FIRST_US;
		g_message("%s; carrying on without the shared cache", error->message);
		error_log_add(l2->error_log, "redis", error);
	} else {
		l2->backoff_us = MIN(l2->backoff_us * 2, L2_BACKOFF_MAX_US);
	}
	l2->retry_at_mono_us = now_us + l2->backoff_us;
	/* The other idle connections are most likely broken too. */
	redisContext *context;

	while ((context = g_queue_pop_head(&l2->idle)) != NULL)
		redisFree(context);
}

static void note_failure(struct l2 *l2, const GError *error)
{
	g_mutex_lock(&l2->lock);
	note_failure_locked(l2, error);
	g_mutex_unlock(&l2->lock);
}

/* A connection for one command, or NULL while Redis is unavailable.
 * *reused tells whether it had served before (and may have been closed by
 * Redis meanwhile, as its `timeout` setting does to idle clients). */
static redisContext *acquire(struct l2 *l2, gboolean *reused)
{
	g_mutex_lock(&l2->lock);
	redisContext *context = g_queue_pop_head(&l2->idle);

	*reused = context != NULL;
	if (context != NULL) {
		g_mutex_unlock(&l2->lock);
		return context;
	}
	if (l2->down) {
		if (clock_mono_us() < l2->retry_at_mono_us) {
			g_mutex_unlock(&l2->lock);
			return NULL;
		}
		/* This thread probes; the others keep skipping meanwhile. */
		l2->retry_at_mono_us = clock_mono_us() + l2->backoff_us;
	}
	g_mutex_unlock(&l2->lock);

	g_autoptr(GError) error = NULL;

	context = connect_to_redis(l2, &error);
	if (context == NULL)
		note_failure(l2, error);
	return context;
}

/* Redis answered a command: an outage, if any, is over. (A connection
 * alone proves little: a stalled Redis still accepts them.) */
static void note_answer(struct l2 *l2)
{
	g_mutex_lock(&l2->lock);
	if (l2->down) {
		l2->down = FALSE;
		l2->counts.reconnects++;
		g_message("%s reachable again", l2->masked_url);
	}
	l2->counts.connected = TRUE;
	g_mutex_unlock(&l2->lock);
}

static void release(struct l2 *l2, redisContext *context)
{
	g_mutex_lock(&l2->lock);
	if (!l2->down && g_queue_get_length(&l2->idle) < L2_MAX_IDLE) {
		g_queue_push_head(&l2->idle, context);
		context = NULL;
	}
	g_mutex_unlock(&l2->lock);
	if (context != NULL)
		redisFree(context);
}

/* Why a command on `context` failed, errno being `saved_errno`. */
static char *failure_text(const struct l2 *l2, const redisContext *context, int saved_errno)
{
	if (context->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
		return g_strdup_printf("no answer within %u ms", l2->timeout_ms);
	return g_strdup(context->errstr[0] ? context->errstr : "failed");
}

/* Whether a reused connection failed only because Redis had closed it. */
static gboolean closed_while_idle(const redisContext *context, int saved_errno)
{
	return context->err == REDIS_ERR_EOF ||
	       (context->err == REDIS_ERR_IO && (saved_errno == ECONNRESET || saved_errno == EPIPE));
}

/* One command: its reply (free with freeReplyObject), or NULL when Redis
 * is unavailable or answered an error (both counted). */
static redisReply *run(struct l2 *l2, int argc, const char **argv, const size_t *lens)
{
	gboolean reused = FALSE;
	redisContext *context = acquire(l2, &reused);
	redisReply *reply = NULL;

	while (context != NULL) {
		errno = 0;
		reply = command_on(context, argc, argv, lens);
		if (reply != NULL)
			break;
		int saved_errno = errno;

		if (reused && closed_while_idle(context, saved_errno)) {
			/* Not an outage: try the next idle connection, or a new one
			 * (the idle ones are few, so this ends). */
			redisFree(context);
			context = acquire(l2, &reused);
			continue;
		}
		g_autofree char *why = failure_text(l2, context, saved_errno);
		g_autoptr(GError) error = g_error_new(INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE,
						      "%s: %s: %s", l2->masked_url, argv[0], why);

		redisFree(context);
		note_failure(l2, error);
		return NULL;
	}
	if (context == NULL)
		return NULL;
	release(l2, context);
	if (reply->type == REDIS_REPLY_ERROR) {
		/* Redis is up but refuses (out of memory, a missing permission):
		 * counted, and the caller carries on without it. Refused for
		 * want of a password, we are not connected in any useful sense. */
		gboolean no_auth = g_str_has_prefix(reply->str, "NOAUTH");

		if (!no_auth)
			note_answer(l2);
		g_mutex_lock(&l2->lock);
		l2->counts.errors++;
		if (no_auth)
			l2->counts.connected = FALSE;
		g_mutex_unlock(&l2->lock);
		g_debug("%s: %s: %s", l2->masked_url, argv[0], reply->str);
		freeReplyObject(reply);
		return NULL;
	}
	note_answer(l2);
	return reply;
}

static void count(struct l2 *l2, guint64 *counter)
{
	g_mutex_lock(&l2->lock);
	(*counter)++;
	g_mutex_unlock(&l2->lock);
}

void l2_note_rejected(struct l2 *l2)
{
	count(l2, &l2->counts.rejected);
}

void l2_note_lock_wait(struct l2 *l2)
{
	count(l2, &l2->counts.lock_waits);
}

void l2_note_lock_timeout(struct l2 *l2)
{
	count(l2, &l2->counts.lock_timeouts);
}

void l2_counts(struct l2 *l2, struct l2_counts *counts)
{
	g_mutex_lock(&l2->lock);
	*counts = l2->counts;
	counts->connected = !l2->down && l2->counts.connected;
	counts->subscribed = l2->subscribed;
	g_mutex_unlock(&l2->lock);
}

/* The listener's connection came or went: it is the first to notice that
 * Redis is back, so commands need not wait for their backoff to find out. */
static void note_subscribed(struct l2 *l2, gboolean subscribed)
{
	g_mutex_lock(&l2->lock);
	l2->subscribed = subscribed;
	if (subscribed) {
		l2->counts.connected = TRUE;
		l2->refusal_reported = FALSE;
	}
	if (subscribed && l2->down) {
		l2->down = FALSE;
		l2->backoff_us = L2_BACKOFF_FIRST_US;
		l2->counts.reconnects++;
		g_message("%s reachable again", l2->masked_url);
	}
	g_mutex_unlock(&l2->lock);
}

static char *key_of(struct l2 *l2, const char *kind, enum data_class data_class, const char *key)
{
	return l2_format_key(l2->scope, kind, l2->class_tags[data_class], key);
}

static char *epoch_key(struct l2 *l2, enum data_class data_class)
{
	return key_of(l2, "epoch", data_class, NULL);
}

/* A new epoch: random and never 0 (0 stands for "none"), so that an epoch
 * key lost to eviction or a restart makes every entry of its class stale,
 * not valid again. */
static char *new_epoch(void)
{
	guint64 epoch = ((guint64)g_random_int() << 31) ^ g_random_int();

	return g_strdup_printf("%" G_GUINT64_FORMAT, epoch | 1);
}

enum l2_result l2_get(struct l2 *l2, enum data_class data_class, const char *key,
		      gint64 max_age_us, GBytes **payload, gint64 *fetched_wall_us, guint64 *epoch)
{
	g_autofree char *data_key = key_of(l2, "data", data_class, key);
	g_autofree char *class_epoch_key = epoch_key(l2, data_class);
	g_autofree char *max_bytes = g_strdup_printf("%u", L2_MAX_ENTRY_BYTES);
	g_autofree char *candidate_epoch = new_epoch();
	const char *argv[] = { "EVAL", lookup_script, "2", data_key, class_epoch_key,
			       max_age_us < 0 ? "0" : "1", max_bytes, candidate_epoch };
	size_t lens[] = { 4, strlen(lookup_script), 1, strlen(data_key), strlen(class_epoch_key),
			  1, strlen(max_bytes), strlen(candidate_epoch) };
	redisReply *reply = run(l2, 8, argv, lens);

	*epoch = 0;
	if (reply == NULL)
		return L2_UNAVAILABLE;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER) {
		freeReplyObject(reply);
		count(l2, &l2->counts.errors);
		return L2_UNAVAILABLE;
	}
	long long size = reply->element[0]->integer;
	const redisReply *data = reply->element[1];
	const redisReply *epoch_reply = reply->element[2];

	/* An epoch that is no number (someone else's key) leaves 0: nothing
	 * is valid, and nothing can be stored until an invalidation resets it. */
	if (epoch_reply->type != REDIS_REPLY_STRING ||
	    !g_ascii_string_to_unsigned(epoch_reply->str, 10, 1, G_MAXUINT64, epoch, NULL))
		*epoch = 0;
	if (max_age_us < 0 || data->type != REDIS_REPLY_STRING) {
		freeReplyObject(reply);
		if (max_age_us >= 0 && size > L2_MAX_ENTRY_BYTES) {
			g_info("%s: %s: an entry of %lld bytes, over the limit", l2->masked_url,
			       data_key, size);
			count(l2, &l2->counts.rejected);
		}
		if (max_age_us >= 0)
			count(l2, &l2->counts.misses);
		return L2_MISS;
	}
	struct l2_entry entry;
	g_autoptr(GError) error = NULL;
	enum l2_result result = L2_MISS;

	if (!l2_format_decode(data_key, data->str, data->len, &entry, &error)) {
		g_info("%s: %s: %s", l2->masked_url, data_key, error->message);
		count(l2, &l2->counts.rejected);
	} else if (*epoch != 0 && entry.epoch == *epoch &&
		   clock_wall_us() - entry.fetched_wall_us <= max_age_us) {
		*payload = g_bytes_new(entry.payload, entry.payload_len);
		/* A clock ahead of ours must not make data look younger than new. */
		*fetched_wall_us = MIN(entry.fetched_wall_us, clock_wall_us());
		result = L2_HIT;
	}
	count(l2, result == L2_HIT ? &l2->counts.hits : &l2->counts.misses);
	freeReplyObject(reply);
	return result;
}

void l2_store(struct l2 *l2, enum data_class data_class, const char *key, guint64 epoch,
	      gint64 fetched_wall_us, const char *payload, gsize len, guint lifetime_ms)
{
	if (epoch == 0 || lifetime_ms == 0 || len > L2_MAX_ENTRY_BYTES - L2_FORMAT_MAX_HEADER_BYTES)
		return;
	g_autofree char *data_key = key_of(l2, "data", data_class, key);
	g_autoptr(GBytes) entry = l2_format_encode(data_key, epoch, fetched_wall_us, payload, len);
	g_autofree char *px = g_strdup_printf("%u", lifetime_ms);
	gsize entry_len = 0;
	const char *entry_data = g_bytes_get_data(entry, &entry_len);
	const char *argv[] = { "SET", data_key, entry_data, "PX", px };
	size_t lens[] = { 3, strlen(data_key), entry_len, 2, strlen(px) };
	redisReply *reply = run(l2, 5, argv, lens);

	if (reply != NULL) {
		count(l2, &l2->counts.stores);
		freeReplyObject(reply);
	}
}

enum l2_result l2_lock(struct l2 *l2, enum data_class data_class, const char *key,
		       guint lifetime_ms, char **token)
{
	g_autofree char *lock_key = key_of(l2, "lock", data_class, key);
	g_autofree char *px = g_strdup_printf("%u", MAX(lifetime_ms, 1));

	g_mutex_lock(&l2->lock);
	g_autofree char *mine = g_strdup_printf("%s-%" G_GUINT64_FORMAT, l2->origin,
						++l2->next_token);
	g_mutex_unlock(&l2->lock);

	const char *argv[] = { "SET", lock_key, mine, "NX", "PX", px };
	size_t lens[] = { 3, strlen(lock_key), strlen(mine), 2, 2, strlen(px) };
	redisReply *reply = run(l2, 6, argv, lens);

	if (reply == NULL)
		return L2_UNAVAILABLE;
	gboolean taken = reply->type == REDIS_REPLY_STATUS;

	freeReplyObject(reply);
	if (!taken)
		return L2_BUSY;
	*token = g_steal_pointer(&mine);
	return L2_LOCKED;
}

void l2_unlock(struct l2 *l2, enum data_class data_class, const char *key, const char *token)
{
	g_autofree char *lock_key = key_of(l2, "lock", data_class, key);
	const char *argv[] = { "EVAL", unlock_script, "1", lock_key, token };
	size_t lens[] = { 4, strlen(unlock_script), 1, strlen(lock_key), strlen(token) };
	redisReply *reply = run(l2, 5, argv, lens);

	if (reply != NULL)
		freeReplyObject(reply);
}

void l2_invalidate(struct l2 *l2, const gboolean classes[CLASS_COUNT], const char *patterns,
		   gsize len)
{
	for (int c = 0; c < CLASS_COUNT; c++) {
		if (!classes[c])
			continue;
		g_autofree char *key = epoch_key(l2, (enum data_class)c);
		g_autofree char *epoch = new_epoch();
		const char *argv[] = { "SET", key, epoch };
		size_t lens[] = { 3, strlen(key), strlen(epoch) };
		redisReply *reply = run(l2, 3, argv, lens);

		if (reply != NULL)
			freeReplyObject(reply);
	}
	g_autofree char *message = l2_format_message(l2->origin, patterns, len);
	const char *argv[] = { "PUBLISH", l2->channel, message };
	size_t lens[] = { 7, strlen(l2->channel), strlen(message) };
	redisReply *reply = run(l2, 3, argv, lens);

	if (reply != NULL) {
		count(l2, &l2->counts.invalidations_sent);
		freeReplyObject(reply);
	}
}

/* ---- the listener ------------------------------------------------------- */

static void handle_message(struct l2 *l2, const redisReply *reply)
{
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(reply->element[0]->str, "message") != 0 ||
	    reply->element[2]->type != REDIS_REPLY_STRING)
		return;
	g_autofree char *origin = NULL;
	const char *patterns = NULL;
	gsize patterns_len = 0;

	if (!l2_format_parse_message(reply->element[2]->str, reply->element[2]->len, &origin,
				     &patterns, &patterns_len)) {
		g_info("%s: ignored a message that is not an invalidation", l2->masked_url);
		return;
	}
	if (strcmp(origin, l2->origin) == 0)
		return;
	count(l2, &l2->counts.invalidations_received);
	l2->on_invalidation(patterns, patterns_len, l2->on_invalidation_data);
}

enum subscription {
	SUBSCRIBED,
	REFUSED,   /* Redis answers but will not let us (an ACL without channels) */
	BROKEN,    /* the connection failed */
};

static enum subscription subscribe(struct l2 *l2, redisContext *context, GError **error)
{
	const char *argv[] = { "SUBSCRIBE", l2->channel };
	size_t lens[] = { 9, strlen(l2->channel) };
	redisReply *reply = command_on(context, 2, argv, lens);
	enum subscription result = SUBSCRIBED;

	if (reply == NULL) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE, "%s: SUBSCRIBE: %s",
			    l2->masked_url, context->errstr[0] ? context->errstr : "failed");
		return BROKEN;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_FORBIDDEN,
			    "%s: SUBSCRIBE refused, so no invalidation from other mounts reaches "
			    "this one: %s",
			    l2->masked_url, reply->str);
		result = REFUSED;
	} else if (reply->type != REDIS_REPLY_ARRAY) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE,
			    "%s: SUBSCRIBE: unexpected answer", l2->masked_url);
		result = BROKEN;
	}
	freeReplyObject(reply);
	return result;
}

/* Redis answers but refuses the subscription: not an outage (commands
 * work), but said once, and tried again now and then. */
static void note_refusal(struct l2 *l2, const GError *error)
{
	g_mutex_lock(&l2->lock);
	gboolean first = !l2->refusal_reported;

	l2->counts.errors++;
	l2->refusal_reported = TRUE;
	g_mutex_unlock(&l2->lock);
	if (first) {
		g_message("%s", error->message);
		error_log_add(l2->error_log, "redis", error);
	}
}

static gboolean listener_stopping(struct l2 *l2)
{
	g_mutex_lock(&l2->listener_lock);
	gboolean stopping = l2->stopping;

	g_mutex_unlock(&l2->listener_lock);
	return stopping;
}

/* Wait `us` unless stopping; returns whether to go on. */
static gboolean listener_pause(struct l2 *l2, gint64 us)
{
	gint64 until = g_get_monotonic_time() + us;

	g_mutex_lock(&l2->listener_lock);
	while (!l2->stopping && g_cond_wait_until(&l2->listener_wake, &l2->listener_lock, until))
		;
	gboolean go_on = !l2->stopping;

	g_mutex_unlock(&l2->listener_lock);
	return go_on;
}

/* While commands are skipped for an outage, ask Redis when the backoff
 * allows: so that a recovery shows in the stats without waiting for a read. */
static void probe_if_down(struct l2 *l2)
{
	g_mutex_lock(&l2->lock);
	gboolean due = l2->down && clock_mono_us() >= l2->retry_at_mono_us;

	g_mutex_unlock(&l2->lock);
	if (!due)
		return;
	const char *argv[] = { "PING" };
	size_t lens[] = { 4 };
	redisReply *reply = run(l2, 1, argv, lens);

	if (reply != NULL)
		freeReplyObject(reply);
}

/* Apply messages until the connection fails or the listener stops,
 * probing a Redis that commands found down meanwhile. */
static void read_messages(struct l2 *l2, redisContext *context)
{
	for (;;) {
		void *reply = NULL;

		if (redisGetReplyFromReader(context, &reply) != REDIS_OK)
			return;
		if (reply != NULL) {
			handle_message(l2, reply);
			freeReplyObject(reply);
			continue;
		}
		struct pollfd ready = { .fd = context->fd, .events = POLLIN };
		int n = poll(&ready, 1, L2_LISTENER_TICK_MS);

		if (listener_stopping(l2))
			return;
		if (n == 0) {
			probe_if_down(l2);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || redisBufferRead(context) != REDIS_OK)
			return;
	}
}

static gpointer listen_main(gpointer data)
{
	struct l2 *l2 = data;
	gint64 backoff_us = L2_BACKOFF_FIRST_US;
	gboolean missed = FALSE;    /* invalidations may have gone unheard */

	for (;;) {
		g_autoptr(GError) error = NULL;
		redisContext *context = connect_to_redis(l2, &error);
		enum subscription subscription = BROKEN;

		if (context != NULL && redisSetTimeout(context, (struct timeval){ 0 }) != REDIS_OK)
			g_set_error(&error, INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE, "%s: %s",
				    l2->masked_url, context->errstr);
		else if (context != NULL)
			subscription = subscribe(l2, context, &error);
		if (subscription != SUBSCRIBED) {
			if (context != NULL)
				redisFree(context);
			missed = TRUE;
			if (subscription == REFUSED) {
				note_refusal(l2, error);
				backoff_us = L2_BACKOFF_MAX_US;
			} else {
				note_failure(l2, error);
			}
			if (!listener_pause(l2, backoff_us))
				break;
			backoff_us = MIN(backoff_us * 2, L2_BACKOFF_MAX_US);
			continue;
		}
		g_mutex_lock(&l2->listener_lock);
		gboolean stopping = l2->stopping;

		if (!stopping)
			l2->listener_context = context;
		g_mutex_unlock(&l2->listener_lock);
		if (stopping) {
			redisFree(context);
			break;
		}
		backoff_us = L2_BACKOFF_FIRST_US;
		note_subscribed(l2, TRUE);
		if (missed) {
			g_message("%s: listening again; dropping what may have been "
				  "invalidated meanwhile", l2->masked_url);
			l2->on_invalidation(NULL, 0, l2->on_invalidation_data);
			missed = FALSE;
		}
		read_messages(l2, context);
		note_subscribed(l2, FALSE);
		g_mutex_lock(&l2->listener_lock);
		l2->listener_context = NULL;
		stopping = l2->stopping;
		g_mutex_unlock(&l2->listener_lock);
		redisFree(context);
		if (stopping)
			break;
		missed = TRUE;
		g_autoptr(GError) lost = g_error_new(INFRAFS_ERROR, INFRAFS_ERROR_UNAVAILABLE,
						     "%s: connection lost", l2->masked_url);
		note_failure(l2, lost);
		if (!listener_pause(l2, backoff_us))
			break;
	}
	return NULL;
}

void l2_listen(struct l2 *l2, l2_invalidation_fn on_invalidation, gpointer user_data)
{
	g_return_if_fail(l2->listener == NULL);
	l2->on_invalidation = on_invalidation;
	l2->on_invalidation_data = user_data;
	l2->listener = g_thread_new("infrafs-l2", listen_main, l2);
}
