/* os_auth: Keystone v3 authentication and endpoint choice (see infrafs/os_auth.h). */
#include "infrafs/os_auth.h"

#include <string.h>

#include "infrafs/clock.h"
#include "infrafs/errors.h"
#include "infrafs/json_util.h"
#include "infrafs/log.h"

struct os_auth {
	struct api *api;                        /* borrowed */
	const struct os_credentials *credentials; /* borrowed */
	GMutex lock;        /* guards the fields below; held across re-authentication
			     * so that concurrent callers wait for one POST */
	char *token;        /* current token, or NULL */
	gint64 expires_wall_us;
	gint64 refresh_margin_us; /* replace the token this long before it expires */
	char *project_id;
	json_object *catalog; /* the token's catalog; only touched under lock */
};

struct os_auth *os_auth_new(struct api *api, const struct os_credentials *credentials)
{
	struct os_auth *auth = g_new0(struct os_auth, 1);

	auth->api = api;
	auth->credentials = credentials;
	g_mutex_init(&auth->lock);
	return auth;
}

static void forget_token(struct os_auth *auth)
{
	/* A token is a credential: do not leave it in freed memory. */
	if (auth->token != NULL)
		memset(auth->token, 0, strlen(auth->token));
	g_clear_pointer(&auth->token, g_free);
	g_clear_pointer(&auth->project_id, g_free);
	g_clear_pointer(&auth->catalog, json_object_put);
	auth->expires_wall_us = 0;
}

void os_auth_free(struct os_auth *auth)
{
	if (auth == NULL)
		return;
	forget_token(auth);
	g_mutex_clear(&auth->lock);
	g_free(auth);
}

/* The v3 base URL: auth_url as given when it ends in /v3, else with /v3. */
static char *identity_base(const char *auth_url)
{
	g_autofree char *base = g_strdup(auth_url);
	gsize len = strlen(base);

	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';
	if (g_str_has_suffix(base, "/v3"))
		return g_steal_pointer(&base);
	return g_strconcat(base, "/v3", NULL);
}

static json_object *named_ref(const char *name, const char *id, const char *domain_name,
			      const char *domain_id)
{
	json_object *ref = json_object_new_object();

	if (id != NULL) {
		json_object_object_add(ref, "id", json_object_new_string(id));
		return ref;
	}
	json_object_object_add(ref, "name", json_object_new_string(name ? name : ""));
	json_object *domain = json_object_new_object();

	if (domain_id != NULL)
		json_object_object_add(domain, "id", json_object_new_string(domain_id));
	else
		json_object_object_add(domain, "name",
				       json_object_new_string(domain_name ? domain_name : "Default"));
	json_object_object_add(ref, "domain", domain);
	return ref;
}

/* The POST body for the configured method. The caller owns it; it holds the
 * password, so it is wiped after use. */
static char *auth_request_body(const struct os_credentials *os)
{
	g_autoptr(json_object) root = json_object_new_object();
	json_object *auth = json_object_new_object();
	json_object *identity = json_object_new_object();
	json_object *methods = json_object_new_array();

	json_object_object_add(root, "auth", auth);
	json_object_object_add(auth, "identity", identity);
	json_object_object_add(identity, "methods", methods);
	if (g_strcmp0(os->auth_type, "v3applicationcredential") == 0) {
		json_object *credential = json_object_new_object();

		json_object_array_add(methods, json_object_new_string("application_credential"));
		json_object_object_add(credential, "id",
				       json_object_new_string(os->application_credential_id));
		json_object_object_add(credential, "secret",
				       json_object_new_string(os->application_credential_secret));
		json_object_object_add(identity, "application_credential", credential);
	} else {
		json_object *password = json_object_new_object();
		json_object *user = named_ref(os->username, os->user_id, os->user_domain_name,
					      os->user_domain_id);

		json_object_array_add(methods, json_object_new_string("password"));
		json_object_object_add(user, "password", json_object_new_string(os->password));
		json_object_object_add(password, "user", user);
		json_object_object_add(identity, "password", password);

		json_object *scope = json_object_new_object();

		json_object_object_add(scope, "project",
				       named_ref(os->project_name, os->project_id,
						 os->project_domain_name, os->project_domain_id));
		json_object_object_add(auth, "scope", scope);
	}
	return g_strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
}

static gint64 parse_expiry_us(const char *expires_at)
{
	if (expires_at == NULL)
		return 0;
	/* Keystone writes UTC with a 'Z'; a missing zone is UTC too. */
	g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
	g_autoptr(GDateTime) when = g_date_time_new_from_iso8601(expires_at, utc);

	return when ? g_date_time_to_unix(when) * G_USEC_PER_SEC : 0;
}

static gboolean store_token(struct os_auth *auth, const char *token, json_object *body,
			    GError **error)
{
	json_object *token_object = json_util_require_object(body, "token", error);

	if (token_object == NULL)
		return FALSE;
	json_object *catalog = json_util_require_array(token_object, "catalog", error);

	if (catalog == NULL) {
		g_prefix_error(error, "Keystone token has no catalog (is it project-scoped?): ");
		return FALSE;
	}
	json_object *project = json_util_get(token_object, "project", json_type_object);

	forget_token(auth);
	auth->token = g_strdup(token);
	auth->expires_wall_us = parse_expiry_us(json_util_get_string(token_object, "expires_at"));
	/* Two minutes, or a tenth of the lifetime of a token that lives less
	 * than twenty: a short-lived token must still be reused. */
	gint64 issued_us = parse_expiry_us(json_util_get_string(token_object, "issued_at"));

	auth->refresh_margin_us = OS_AUTH_REFRESH_MARGIN_S * G_USEC_PER_SEC;
	if (issued_us > 0 && auth->expires_wall_us > issued_us)
		auth->refresh_margin_us =
			MIN(auth->refresh_margin_us, (auth->expires_wall_us - issued_us) / 10);
	auth->project_id = g_strdup(json_util_get_string(project, "id"));
	auth->catalog = json_object_get(catalog);
	return TRUE;
}

static gboolean authenticate(struct os_auth *auth, GError **error)
{
	const struct os_credentials *os = auth->credentials;
	g_autofree char *base = identity_base(os->auth_url);
	g_autofree char *url = g_strconcat(base, "/auth/tokens", NULL);
	char *body = auth_request_body(os);
	const char *headers[] = { "Content-Type: application/json", "Accept: application/json",
				  NULL };
	g_autoptr(http_response) response =
		api_request(auth->api, "identity", "POST", url, headers, body, error);

	memset(body, 0, strlen(body));
	g_free(body);
	if (response == NULL) {
		g_prefix_error(error, "Keystone: ");
		return FALSE;
	}
	if (response->status == 401 || response->status == 403) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_AUTH,
			    "Keystone refused the credentials of %s (HTTP %ld)",
			    os->username ? os->username
					 : (os->user_id ? os->user_id : "the application credential"),
			    response->status);
		return FALSE;
	}
	if (response->status != 201 && response->status != 200) {
		g_set_error(error, INFRAFS_ERROR,
			    response->status >= 500 ? INFRAFS_ERROR_UNAVAILABLE : INFRAFS_ERROR_BACKEND,
			    "Keystone POST %s answered HTTP %ld", url, response->status);
		return FALSE;
	}
	const char *token = http_response_header(response, "X-Subject-Token");

	if (token == NULL || *token == '\0') {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
			    "Keystone answered without an X-Subject-Token header");
		return FALSE;
	}
	gsize len = 0;
	const char *data = g_bytes_get_data(response->body, &len);
	g_autoptr(json_object) parsed = json_util_parse(data, len, error);

	if (parsed == NULL || !store_token(auth, token, parsed, error)) {
		g_prefix_error(error, "Keystone token response: ");
		return FALSE;
	}
	g_autofree char *masked = log_mask_secret(token);

	g_info("authenticated to %s as %s: token %s", url,
	       os->username ? os->username : "application credential", masked);
	return TRUE;
}

/* Make sure a usable token is held. Call with auth->lock held. */
static gboolean ensure_token(struct os_auth *auth, GError **error)
{
	if (auth->token != NULL &&
	    (auth->expires_wall_us == 0 ||
	     clock_wall_us() + auth->refresh_margin_us < auth->expires_wall_us))
		return TRUE;
	return authenticate(auth, error);
}

char *os_auth_token(struct os_auth *auth, GError **error)
{
	char *token = NULL;

	g_mutex_lock(&auth->lock);
	if (ensure_token(auth, error))
		token = g_strdup(auth->token);
	/* The lock is held across the Keystone POST on purpose: every waiter
	 * needs its result. Callers keep their copy in a secret_string. */
	g_mutex_unlock(&auth->lock);
	return token;
}

void os_auth_reject(struct os_auth *auth, const char *token)
{
	g_mutex_lock(&auth->lock);
	if (auth->token != NULL && g_strcmp0(auth->token, token) == 0) {
		g_info("a service refused the token; authenticating again");
		forget_token(auth);
	}
	g_mutex_unlock(&auth->lock);
}

/* Preference order of interfaces: the configured one first. */
static int interface_rank(const char *wanted, const char *offered)
{
	const char *order[] = { wanted ? wanted : "public", "public", "internal", "admin" };

	for (gsize i = 0; i < G_N_ELEMENTS(order); i++)
		if (g_strcmp0(order[i], offered) == 0)
			return (int)i;
	return -1;
}

static char *pick_endpoint(json_object *catalog, const struct os_credentials *os,
			   const char *service_type)
{
	const char *best_url = NULL;
	int best_rank = G_MAXINT;

	for (size_t s = 0; s < json_object_array_length(catalog); s++) {
		json_object *service = json_object_array_get_idx(catalog, s);

		if (g_strcmp0(json_util_get_string(service, "type"), service_type) != 0)
			continue;
		json_object *endpoints = json_util_get(service, "endpoints", json_type_array);

		for (size_t e = 0; endpoints && e < json_object_array_length(endpoints); e++) {
			json_object *endpoint = json_object_array_get_idx(endpoints, e);
			const char *url = json_util_get_string(endpoint, "url");
			const char *region = json_util_get_string(endpoint, "region_id");
			int rank = interface_rank(os->interface,
						  json_util_get_string(endpoint, "interface"));

			if (region == NULL)
				region = json_util_get_string(endpoint, "region");
			if (url == NULL || *url == '\0' || rank < 0)
				continue;
			if (os->region_name != NULL && g_strcmp0(region, os->region_name) != 0)
				continue;
			if (rank < best_rank) {
				best_rank = rank;
				best_url = url;
			}
		}
	}
	if (best_url == NULL)
		return NULL;

	char *url = g_strdup(best_url);
	gsize len = strlen(url);

	while (len > 0 && url[len - 1] == '/')
		url[--len] = '\0';
	return url;
}

char *os_auth_endpoint(struct os_auth *auth, const char *service_type, GError **error)
{
	char *url = NULL;

	g_mutex_lock(&auth->lock);
	if (ensure_token(auth, error)) {
		url = pick_endpoint(auth->catalog, auth->credentials, service_type);
		if (url == NULL)
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BACKEND,
				    "the catalog has no %s endpoint for interface %s%s%s",
				    service_type,
				    auth->credentials->interface ? auth->credentials->interface
								 : "public",
				    auth->credentials->region_name ? " in region " : "",
				    auth->credentials->region_name ? auth->credentials->region_name
								   : "");
	}
	g_mutex_unlock(&auth->lock);
	return url;
}

char *os_auth_project_id(struct os_auth *auth, GError **error)
{
	char *project_id = NULL;

	g_mutex_lock(&auth->lock);
	if (ensure_token(auth, error))
		project_id = g_strdup(auth->project_id);
	g_mutex_unlock(&auth->lock);
	return project_id;
}
