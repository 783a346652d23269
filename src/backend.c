/* backend: data classes -> OpenStack requests (see infrafs/backend.h). */
#include "infrafs/backend.h"

#include <stdio.h>
#include <string.h>

#include "infrafs/errors.h"
#include "infrafs/json_util.h"
#include "infrafs/log.h"

/* Longest piece of a backend's error message quoted in our errors. */
#define BACKEND_MESSAGE_MAX 200

struct backend {
	struct api *api;            /* borrowed */
	struct os_auth *auth;       /* borrowed */
	GMutex lock;                /* guards the negotiated microversion */
	gboolean negotiated;
	int compute_major;
	int compute_minor;          /* 0.0 when the cloud has no microversions */
	gboolean placement_negotiated;
	int placement_major;
	int placement_minor;
	const char *netbox_url;     /* borrowed; NULL: no NetBox */
	const char *netbox_token;   /* borrowed; may be NULL */
};

/* The first URL a fetch asked for, per thread (a fetch runs on one). */
static GPrivate first_request = G_PRIVATE_INIT(g_free);

static void note_request(const char *url)
{
	if (g_private_get(&first_request) == NULL)
		g_private_replace(&first_request, g_strdup(url));
}

const char *backend_fetch_request(void)
{
	return g_private_get(&first_request);
}

void backend_set_netbox(struct backend *backend, const char *url, const char *token)
{
	backend->netbox_url = url;
	backend->netbox_token = token;
}

struct backend *backend_new(struct api *api, struct os_auth *auth)
{
	struct backend *backend = g_new0(struct backend, 1);

	backend->api = api;
	backend->auth = auth;
	g_mutex_init(&backend->lock);
	return backend;
}

void backend_free(struct backend *backend)
{
	if (backend == NULL)
		return;
	g_mutex_clear(&backend->lock);
	g_free(backend);
}

/* The message inside a Nova, Keystone or Placement error body, if any. */
static char *error_body_message(GBytes *body)
{
	gsize len = 0;
	const char *data = g_bytes_get_data(body, &len);
	g_autoptr(json_object) parsed = json_util_parse(data, len, NULL);
	const char *message = NULL;

	if (parsed != NULL && json_object_is_type(parsed, json_type_object)) {
		json_object_object_foreach(parsed, key, value)
		{
			(void)key;
			if (json_object_is_type(value, json_type_object))
				message = json_util_get_string(value, "message");
			else if (json_object_is_type(value, json_type_array) &&
				 json_object_array_length(value) > 0)
				message = json_util_get_string(json_object_array_get_idx(value, 0),
							       "detail");
			if (message != NULL)
				break;
		}
	}
	if (message == NULL)
		return g_strdup("");

	g_autofree char *copy = g_utf8_make_valid(message, -1);

	if (g_utf8_strlen(copy, -1) > BACKEND_MESSAGE_MAX) {
		char *cut = g_utf8_offset_to_pointer(copy, BACKEND_MESSAGE_MAX);

		*cut = '\0';
	}
	return g_strconcat(": ", copy, NULL);
}

static void set_status_error(GError **error, const char *url, const struct http_response *response)
{
	long status = response->status;
	int code;

	if (status == 404)
		code = INFRAFS_ERROR_NOT_FOUND;
	else if (status == 401)
		code = INFRAFS_ERROR_AUTH;
	else if (status == 403)
		code = INFRAFS_ERROR_FORBIDDEN;
	else if (status >= 500 || status == 429)
		code = INFRAFS_ERROR_UNAVAILABLE;
	else
		code = INFRAFS_ERROR_BACKEND;

	g_autofree char *message = error_body_message(response->body);

	g_set_error(error, INFRAFS_ERROR, code, "GET %s: HTTP %ld%s", url, status, message);
}

/* Split "2.90" into integers; FALSE when malformed. */
static gboolean parse_microversion(const char *text, int *major, int *minor)
{
	char tail = 0;

	return text != NULL && sscanf(text, "%d.%d%c", major, minor, &tail) == 2;
}

/* Compute URL without a trailing /<project_id>, for the version document. */
static char *compute_version_url(const char *compute_url)
{
	const char *slash = strrchr(compute_url, '/');

	if (slash != NULL && !g_str_has_prefix(slash, "/v2")) {
		g_autofree char *parent = g_strndup(compute_url, slash - compute_url);

		if (g_str_has_suffix(parent, "/v2.1") || g_str_has_suffix(parent, "/v2"))
			return g_steal_pointer(&parent);
	}
	return g_strdup(compute_url);
}

/* A version document: GET without a token (services answer those to
 * anyone), parsed. NULL and an error on any other status. */
static json_object *get_version_document(struct backend *backend, const char *service,
					 const char *url, GError **error)
{
	const char *headers[] = { "Accept: application/json", NULL };
	g_autoptr(http_response) response =
		api_request(backend->api, service, "GET", url, headers, NULL, error);

	if (response == NULL)
		return NULL;
	if (response->status != 200) {
		set_status_error(error, url, response);
		return NULL;
	}
	gsize len = 0;
	const char *data = g_bytes_get_data(response->body, &len);

	return json_util_parse(data, len, error);
}

static gboolean negotiate_compute(struct backend *backend, GError **error)
{
	g_autofree char *compute_url = os_auth_endpoint(backend->auth, "compute", error);

	if (compute_url == NULL)
		return FALSE;

	g_autofree char *url = compute_version_url(compute_url);
	g_autoptr(json_object) parsed = get_version_document(backend, "compute", url, error);
	json_object *version = parsed ? json_util_require_object(parsed, "version", error) : NULL;

	if (version == NULL) {
		g_prefix_error(error, "Nova version document %s: ", url);
		return FALSE;
	}
	const char *server_max = json_util_get_string(version, "version");
	int major = 0, minor = 0;

	if (server_max == NULL || *server_max == '\0' ||
	    !parse_microversion(server_max, &major, &minor)) {
		/* No microversions: send no header, get 2.1 behaviour. */
		major = minor = 0;
	} else if (major > BACKEND_COMPUTE_MAX_MAJOR ||
		   (major == BACKEND_COMPUTE_MAX_MAJOR && minor > BACKEND_COMPUTE_MAX_MINOR)) {
		major = BACKEND_COMPUTE_MAX_MAJOR;
		minor = BACKEND_COMPUTE_MAX_MINOR;
	}
	backend->compute_major = major;
	backend->compute_minor = minor;
	backend->negotiated = TRUE;
	g_info("Nova at %s offers microversion %s; using %d.%d", compute_url,
	       server_max && *server_max ? server_max : "none", major, minor);
	return TRUE;
}

static gboolean compute_version(struct backend *backend, int *major, int *minor, GError **error)
{
	gboolean ok = TRUE;

	g_mutex_lock(&backend->lock);
	if (!backend->negotiated)
		ok = negotiate_compute(backend, error);
	*major = backend->compute_major;
	*minor = backend->compute_minor;
	g_mutex_unlock(&backend->lock);
	return ok;
}

char *backend_compute_microversion(struct backend *backend, GError **error)
{
	int major, minor;

	if (!compute_version(backend, &major, &minor, error))
		return NULL;
	return g_strdup_printf("%d.%d", major, minor);
}

static gboolean compute_at_least(struct backend *backend, int minor)
{
	return backend->compute_major > 2 ||
	       (backend->compute_major == 2 && backend->compute_minor >= minor);
}

/* Base URL of a service: Nova and Keystone (always with /v3) from the catalog. */
static char *service_url(struct backend *backend, const char *service, GError **error)
{
	g_autofree char *url = os_auth_endpoint(backend->auth, service, error);

	if (url == NULL)
		return NULL;
	if (g_strcmp0(service, "identity") == 0 && !g_str_has_suffix(url, "/v3"))
		return g_strconcat(url, "/v3", NULL);
	return g_steal_pointer(&url);
}

/* One authenticated GET of an absolute URL, parsed. Retries once after a
 * 401 with a fresh token. */
static json_object *get_json_url(struct backend *backend, const char *service, const char *url,
				 GError **error)
{
	g_autofree char *version_header = NULL;
	g_autofree char *legacy_header = NULL;

	if (g_strcmp0(service, "compute") == 0 && backend->compute_major > 0) {
		version_header = g_strdup_printf("OpenStack-API-Version: compute %d.%d",
						 backend->compute_major, backend->compute_minor);
		legacy_header = g_strdup_printf("X-OpenStack-Nova-API-Version: %d.%d",
						backend->compute_major, backend->compute_minor);
	}
	/* Without the header Placement answers as 1.0, which has no in_tree. */
	if (g_strcmp0(service, "placement") == 0 && backend->placement_major > 0)
		version_header = g_strdup_printf("OpenStack-API-Version: placement %d.%d",
						 backend->placement_major, backend->placement_minor);
	note_request(url);
	for (int attempt = 0; attempt < 2; attempt++) {
		g_autoptr(secret_string) token = os_auth_token(backend->auth, error);

		if (token == NULL)
			return NULL;
		g_autoptr(secret_string) token_header = g_strconcat("X-Auth-Token: ", token, NULL);
		const char *headers[] = { "Accept: application/json", token_header, version_header,
					  legacy_header, NULL };
		g_autoptr(http_response) response =
			api_request(backend->api, service, "GET", url, headers, NULL, error);

		if (response == NULL)
			return NULL;
		if (response->status == 401 && attempt == 0) {
			os_auth_reject(backend->auth, token);
			continue;
		}
		if (response->status < 200 || response->status > 299) {
			set_status_error(error, url, response);
			return NULL;
		}
		gsize len = 0;
		const char *data = g_bytes_get_data(response->body, &len);
		json_object *parsed = json_util_parse(data, len, error);

		if (parsed == NULL)
			g_prefix_error(error, "GET %s: ", url);
		return parsed;
	}
	g_assert_not_reached();
}

static json_object *get_json(struct backend *backend, const char *service, const char *path,
			     GError **error)
{
	g_autofree char *base = service_url(backend, service, error);

	if (base == NULL)
		return NULL;
	g_autofree char *url = g_strconcat(base, path, NULL);

	return get_json_url(backend, service, url, error);
}

/* The marker of a Nova "next" link, still URL-encoded, or NULL. Building the
 * next URL ourselves avoids trusting a host or scheme a proxy rewrote. */
static char *next_marker(json_object *page, const char *links_key)
{
	json_object *links = json_util_get(page, links_key, json_type_array);

	for (size_t i = 0; links && i < json_object_array_length(links); i++) {
		json_object *link = json_object_array_get_idx(links, i);
		const char *href = json_util_get_string(link, "href");

		if (g_strcmp0(json_util_get_string(link, "rel"), "next") != 0 || href == NULL)
			continue;
		const char *query = strchr(href, '?');

		for (const char *p = query; p != NULL; p = strchr(p + 1, '&')) {
			if (g_str_has_prefix(p + 1, "marker="))
				return g_strndup(p + 8, strcspn(p + 8, "&#"));
		}
	}
	return NULL;
}

/* All items of a Nova collection, following "<key>_links" pages. `path`
 * may already have a query. */
static json_object *list_compute(struct backend *backend, const char *path, const char *key,
				 GError **error)
{
	g_autoptr(json_object) items = json_object_new_array();
	g_autofree char *links_key = g_strconcat(key, "_links", NULL);
	g_autofree char *marker = NULL;

	for (int page_number = 0; page_number < BACKEND_MAX_PAGES; page_number++) {
		g_autofree char *page_path =
			marker == NULL ? g_strdup(path)
				       : g_strdup_printf("%s%cmarker=%s", path,
							 strchr(path, '?') ? '&' : '?', marker);
		g_autoptr(json_object) page = get_json(backend, "compute", page_path, error);

		if (page == NULL)
			return NULL;
		json_object *page_items = json_util_require_array(page, key, error);

		if (page_items == NULL) {
			g_prefix_error(error, "GET %s: ", page_path);
			return NULL;
		}
		size_t count = json_object_array_length(page_items);

		for (size_t i = 0; i < count; i++)
			json_object_array_add(items,
					      json_object_get(json_object_array_get_idx(page_items, i)));

		g_autofree char *next = next_marker(page, links_key);

		/* The last page may be full and followed by an empty one. */
		if (next == NULL || count == 0)
			return g_steal_pointer(&items);
		if (marker != NULL && g_strcmp0(next, marker) == 0) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
				    "GET %s: the next page repeats marker %s", page_path, next);
			return NULL;
		}
		g_free(marker);
		marker = g_steal_pointer(&next);
	}
	g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
		    "GET %s: more than %d pages", path, BACKEND_MAX_PAGES);
	return NULL;
}

/* Flavors always carry "extra_specs": inline from 2.61, else one call each. */
static json_object *fetch_flavors(struct backend *backend, GError **error)
{
	g_autoptr(json_object) flavors =
		list_compute(backend, "/flavors/detail?is_public=None", "flavors", error);

	if (flavors == NULL || compute_at_least(backend, 61))
		return g_steal_pointer(&flavors);
	for (size_t i = 0; i < json_object_array_length(flavors); i++) {
		json_object *flavor = json_object_array_get_idx(flavors, i);
		const char *id = json_util_get_string(flavor, "id");

		if (id == NULL)
			continue;
		g_autofree char *escaped = g_uri_escape_string(id, NULL, FALSE);
		g_autofree char *path = g_strdup_printf("/flavors/%s/os-extra_specs", escaped);
		g_autoptr(json_object) specs = get_json(backend, "compute", path, error);
		json_object *extra_specs =
			specs ? json_util_require_object(specs, "extra_specs", error) : NULL;

		if (extra_specs == NULL)
			return NULL;
		json_object_object_add(flavor, "extra_specs", json_object_get(extra_specs));
	}
	return g_steal_pointer(&flavors);
}

/* Keystone projects, following links.next; the token's own projects when
 * listing all of them is forbidden. */
static json_object *fetch_projects(struct backend *backend, GError **error)
{
	g_autoptr(json_object) items = json_object_new_array();
	g_autoptr(GError) local_error = NULL;
	g_autofree char *base = service_url(backend, "identity", error);

	if (base == NULL)
		return NULL;
	g_autofree char *url = g_strconcat(base, "/projects", NULL);

	for (int page_number = 0; url != NULL && page_number < BACKEND_MAX_PAGES; page_number++) {
		g_autoptr(json_object) page = get_json_url(backend, "identity", url, &local_error);

		if (page == NULL && page_number == 0 &&
		    g_error_matches(local_error, INFRAFS_ERROR, INFRAFS_ERROR_FORBIDDEN)) {
			g_info("listing projects is forbidden; showing the token's own projects");
			g_clear_error(&local_error);
			g_free(url);
			url = g_strconcat(base, "/auth/projects", NULL);
			page = get_json_url(backend, "identity", url, &local_error);
		}
		if (page == NULL) {
			g_propagate_error(error, g_steal_pointer(&local_error));
			return NULL;
		}
		json_object *projects = json_util_require_array(page, "projects", error);

		if (projects == NULL)
			return NULL;
		for (size_t i = 0; i < json_object_array_length(projects); i++)
			json_object_array_add(items,
					      json_object_get(json_object_array_get_idx(projects, i)));
		json_object *links = json_util_get(page, "links", json_type_object);
		const char *next = json_util_get_string(links, "next");

		g_free(url);
		url = (next != NULL && json_object_array_length(projects) > 0) ? g_strdup(next)
										: NULL;
		if (json_util_get(page, "truncated", json_type_boolean) != NULL)
			g_message("Keystone cut the project list short (list_limit)");
	}
	return g_steal_pointer(&items);
}

/* Placement's version document: {"versions":[{"max_version":"1.39",...}]}. */
static gboolean negotiate_placement(struct backend *backend, GError **error)
{
	g_autofree char *base = service_url(backend, "placement", error);

	if (base == NULL)
		return FALSE;
	g_autofree char *url = g_strconcat(base, "/", NULL);
	g_autoptr(json_object) parsed = get_version_document(backend, "placement", url, error);
	json_object *versions = parsed ? json_util_require_array(parsed, "versions", error) : NULL;
	json_object *first = versions && json_object_array_length(versions) > 0
				     ? json_object_array_get_idx(versions, 0)
				     : NULL;
	int major = 0, minor = 0;

	if (first == NULL ||
	    !parse_microversion(json_util_get_string(first, "max_version"), &major, &minor)) {
		if (error != NULL && *error == NULL)
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
				    "Placement version document %s has no max_version", url);
		return FALSE;
	}
	if (major > BACKEND_PLACEMENT_MAX_MAJOR ||
	    (major == BACKEND_PLACEMENT_MAX_MAJOR && minor > BACKEND_PLACEMENT_MAX_MINOR)) {
		major = BACKEND_PLACEMENT_MAX_MAJOR;
		minor = BACKEND_PLACEMENT_MAX_MINOR;
	}
	if (major == 1 && minor < 14) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BACKEND,
			    "Placement at %s offers only %d.%d; infrafs needs 1.14 (in_tree)", base,
			    major, minor);
		return FALSE;
	}
	backend->placement_major = major;
	backend->placement_minor = minor;
	backend->placement_negotiated = TRUE;
	g_info("Placement at %s: using microversion %d.%d", base, major, minor);
	return TRUE;
}

/* A provider's member `what` ("inventories", "usages") added to it. */
static gboolean add_provider_part(struct backend *backend, json_object *provider,
				  const char *uuid, const char *what, GError **error)
{
	g_autofree char *escaped = g_uri_escape_string(uuid, NULL, FALSE);
	g_autofree char *path = g_strdup_printf("/resource_providers/%s/%s", escaped, what);
	g_autoptr(json_object) body = get_json(backend, "placement", path, error);
	json_object *part = body ? json_util_require_object(body, what, error) : NULL;

	if (part == NULL)
		return FALSE;
	json_object_object_add(provider, what, json_object_get(part));
	return TRUE;
}

/* GET a Placement `path` answering {"resource_providers": [...]}: the
 * array, borrowed from *answer (the caller's), or NULL and an error. */
static json_object *get_providers(struct backend *backend, const char *path,
				  json_object **answer, GError **error)
{
	*answer = get_json(backend, "placement", path, error);
	return *answer ? json_util_require_array(*answer, "resource_providers", error) : NULL;
}

/* The provider tree of the hypervisor called `hostname`, with inventories
 * and usages: name -> root uuid -> in_tree -> parts of each provider. */
static json_object *fetch_placement(struct backend *backend, const char *hostname,
				    GError **error)
{
	gboolean ok = TRUE;

	g_mutex_lock(&backend->lock);
	if (!backend->placement_negotiated)
		ok = negotiate_placement(backend, error);
	g_mutex_unlock(&backend->lock);
	if (!ok)
		return NULL;

	g_autofree char *escaped = g_uri_escape_string(hostname, NULL, FALSE);
	g_autofree char *by_name = g_strdup_printf("/resource_providers?name=%s", escaped);
	g_autoptr(json_object) named = NULL;
	json_object *matches = get_providers(backend, by_name, &named, error);

	if (matches == NULL)
		return NULL;
	g_autoptr(json_object) result = json_object_new_object();
	json_object *providers = json_object_new_array();

	json_object_object_add(result, "resource_providers", providers);
	if (json_object_array_length(matches) == 0)
		return g_steal_pointer(&result); /* not in Placement: nothing to show */

	const char *root = json_util_get_string(json_object_array_get_idx(matches, 0), "uuid");

	if (root == NULL) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_BAD_RESPONSE,
			    "GET %s: a provider without a uuid", by_name);
		return NULL;
	}
	g_autofree char *root_escaped = g_uri_escape_string(root, NULL, FALSE);
	g_autofree char *by_tree = g_strdup_printf("/resource_providers?in_tree=%s", root_escaped);
	g_autoptr(json_object) tree = NULL;
	json_object *members = get_providers(backend, by_tree, &tree, error);

	if (members == NULL)
		return NULL;
	for (size_t i = 0; i < json_object_array_length(members); i++) {
		json_object *provider = json_object_array_get_idx(members, i);
		const char *uuid = json_util_get_string(provider, "uuid");
		json_object *copy = json_object_new_object();

		json_object_object_foreach(provider, key, value)
		{
			/* Links point at the API, not at anything in the mount. */
			if (g_strcmp0(key, "links") != 0)
				json_object_object_add(copy, key, json_object_get(value));
		}
		json_object_array_add(providers, copy);
		if (uuid == NULL || !add_provider_part(backend, copy, uuid, "inventories", error) ||
		    !add_provider_part(backend, copy, uuid, "usages", error))
			return NULL;
	}
	return g_steal_pointer(&result);
}

static json_object *fetch_quota(struct backend *backend, const char *project_id, GError **error)
{
	g_autofree char *escaped = g_uri_escape_string(project_id, NULL, FALSE);
	g_autofree char *path = g_strdup_printf("/os-quota-sets/%s/detail", escaped);
	g_autoptr(json_object) body = get_json(backend, "compute", path, error);
	json_object *quota_set = body ? json_util_require_object(body, "quota_set", error) : NULL;

	return quota_set ? json_object_get(quota_set) : NULL;
}

static json_object *fetch_servers(struct backend *backend, const char *node, GError **error)
{
	g_autofree char *escaped = g_uri_escape_string(node, NULL, FALSE);
	g_autofree char *path = g_strdup_printf("/servers/detail?all_tenants=1&node=%s", escaped);

	return list_compute(backend, path, "servers", error);
}

/* NetBox's device called `name` (/api/dcim/devices/?name=), or an empty
 * object when NetBox has none: "NetBox knows nothing of this host" is an
 * answer, not an error. */
static json_object *fetch_netbox(struct backend *backend, const char *name, GError **error)
{
	if (backend->netbox_url == NULL) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_NOT_FOUND, "no NetBox configured");
		return NULL;
	}
	g_autofree char *escaped = g_uri_escape_string(name, NULL, FALSE);
	g_autofree char *url =
		g_strdup_printf("%s/api/dcim/devices/?name=%s&limit=2", backend->netbox_url, escaped);
	g_autoptr(secret_string) auth_header =
		backend->netbox_token ? g_strconcat("Authorization: Token ", backend->netbox_token,
						    NULL)
				      : NULL;
	const char *headers[] = { "Accept: application/json", auth_header, NULL };

	note_request(url);
	g_autoptr(http_response) response =
		api_request(backend->api, "netbox", "GET", url, headers, NULL, error);

	if (response == NULL)
		return NULL;
	if (response->status != 200) {
		set_status_error(error, url, response);
		return NULL;
	}
	gsize len = 0;
	const char *data = g_bytes_get_data(response->body, &len);
	g_autoptr(json_object) page = json_util_parse(data, len, error);
	json_object *results = page ? json_util_require_array(page, "results", error) : NULL;

	if (results == NULL) {
		g_prefix_error(error, "GET %s: ", url);
		return NULL;
	}
	for (size_t i = 0; i < json_object_array_length(results); i++) {
		json_object *device = json_object_array_get_idx(results, i);

		if (json_object_is_type(device, json_type_object) &&
		    g_strcmp0(json_util_get_string(device, "name"), name) == 0)
			return json_object_get(device);
	}
	return json_object_new_object();
}

json_object *backend_fetch(struct backend *backend, enum data_class data_class, const char *key,
			   GError **error)
{
	int major, minor;

	g_private_replace(&first_request, NULL);
	if (data_class != CLASS_PROJECTS && data_class != CLASS_PLACEMENT &&
	    data_class != CLASS_NETBOX && !compute_version(backend, &major, &minor, error))
		return NULL;

	switch (data_class) {
	case CLASS_AGGREGATES: {
		g_autoptr(json_object) body = get_json(backend, "compute", "/os-aggregates", error);
		json_object *items = body ? json_util_require_array(body, "aggregates", error) : NULL;

		return items ? json_object_get(items) : NULL;
	}
	case CLASS_HOSTS:
		return list_compute(backend, "/os-hypervisors/detail", "hypervisors", error);
	case CLASS_FLAVORS:
		return fetch_flavors(backend, error);
	case CLASS_PROJECTS:
		return fetch_projects(backend, error);
	case CLASS_QUOTAS:
		return fetch_quota(backend, key, error);
	case CLASS_SERVERS:
		return fetch_servers(backend, key, error);
	case CLASS_PLACEMENT:
		return fetch_placement(backend, key, error);
	case CLASS_NETBOX:
		return fetch_netbox(backend, key, error);
	default:
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_NOT_FOUND,
			    "no backend for data class %s", classes_name(data_class));
		return NULL;
	}
}
