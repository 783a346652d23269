/* config: defaults, OS_* environment, -o options (see infrafs/config.h). */
#include "infrafs/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "infrafs/errors.h"


void config_init(struct config *config)
{
	memset(config, 0, sizeof(*config));
	for (int c = 0; c < CLASS_COUNT; c++)
		config->ttl_s[c] = classes_default_ttl_s((enum data_class)c);
	config->connect_timeout_ms = CONFIG_DEFAULT_CONNECT_TIMEOUT_MS;
	config->request_timeout_ms = CONFIG_DEFAULT_REQUEST_TIMEOUT_MS;
	config->fetch_wait_ms = CONFIG_DEFAULT_FETCH_WAIT_MS;
	config->max_stale_s = CONFIG_DEFAULT_MAX_STALE_S;
	config->cache_max_bytes = CONFIG_DEFAULT_CACHE_MAX_BYTES;
	config->warm_rate_per_s = CONFIG_DEFAULT_WARM_RATE_PER_S;
	config->max_retries = CONFIG_DEFAULT_RETRIES;
	config->rate_limit_per_s = CONFIG_DEFAULT_RATE_LIMIT_PER_S;
}

/* The classes the warmer can fetch. */
static gboolean warmable(enum data_class data_class)
{
	return data_class <= CLASS_SERVERS;
}

/* "aggregates:hosts" or "all" into config->warm. */
static gboolean parse_warm(struct config *config, const char *value, GError **error)
{
	g_auto(GStrv) names = g_strsplit(value ? value : "", ":", -1);

	for (int i = 0; names[i] != NULL; i++) {
		enum data_class data_class;

		if (g_strcmp0(names[i], "all") == 0) {
			for (int c = 0; c < CLASS_COUNT; c++)
				config->warm[c] = warmable((enum data_class)c);
			continue;
		}
		if (!classes_from_name(names[i], &data_class) || !warmable(data_class)) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "option warm: \"%s\" is not a class to warm (aggregates, hosts, "
				    "flavors, projects, quotas, servers, or all)",
				    names[i]);
			return FALSE;
		}
		config->warm[data_class] = TRUE;
	}
	return TRUE;
}

/* "64M" and friends: a whole number with an optional K, M or G (powers of
 * 1024); at least 64 KiB, so the cache can hold something. */
static gboolean parse_bytes(const char *key, const char *value, guint64 *out, GError **error)
{
	char *end = NULL;
	guint64 number = value && g_ascii_isdigit(value[0]) ? g_ascii_strtoull(value, &end, 10) : 0;
	guint shift = 0;

	if (end != NULL && (*end == 'K' || *end == 'k'))
		shift = 10, end++;
	else if (end != NULL && (*end == 'M' || *end == 'm'))
		shift = 20, end++;
	else if (end != NULL && (*end == 'G' || *end == 'g'))
		shift = 30, end++;
	if (end == NULL || *end != '\0' || number > (G_MAXUINT64 >> 30) ||
	    (number << shift) < 64 * 1024) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
			    "option %s: expected a size of at least 64K (like 65536, 512K, 64M, "
			    "1G), got \"%s\"",
			    key, value ? value : "");
		return FALSE;
	}
	*out = number << shift;
	return TRUE;
}

guint config_grace_s(const struct config *config, enum data_class data_class)
{
	if (config->grace_set[data_class])
		return config->grace_s[data_class];
	return MIN(config->ttl_s[data_class], CONFIG_MAX_DEFAULT_GRACE_S);
}

static void credentials_clear(struct os_credentials *os)
{
	char **fields[] = {
		&os->auth_url, &os->auth_type, &os->username, &os->user_id, &os->password,
		&os->user_domain_name, &os->user_domain_id, &os->project_name,
		&os->project_id, &os->project_domain_name, &os->project_domain_id,
		&os->application_credential_id, &os->application_credential_secret,
		&os->region_name, &os->interface, &os->cacert,
	};

	for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
		/* Secrets should not linger in freed memory. */
		if (*fields[i] != NULL)
			memset(*fields[i], 0, strlen(*fields[i]));
		g_clear_pointer(fields[i], g_free);
	}
}

void config_clear(struct config *config)
{
	credentials_clear(&config->os);
	gpu_rules_clear(&config->gpu);
	g_clear_pointer(&config->config_file, g_free);
	g_clear_pointer(&config->netbox_url, g_free);
	if (config->netbox_token != NULL)
		memset(config->netbox_token, 0, strlen(config->netbox_token));
	g_clear_pointer(&config->netbox_token, g_free);
	redis_url_clear(&config->redis);
	if (config->redis_password != NULL)
		memset(config->redis_password, 0, strlen(config->redis_password));
	g_clear_pointer(&config->redis_password, g_free);
}

static void take_env(char **field, const char *(*getenv_fn)(const char *), const char *name,
		     const char *legacy_name)
{
	const char *value = getenv_fn(name);

	if ((value == NULL || *value == '\0') && legacy_name != NULL)
		value = getenv_fn(legacy_name);
	if (value != NULL && *value != '\0') {
		g_free(*field);
		*field = g_strdup(value);
	}
}

void config_load_env(struct config *config, const char *(*getenv_fn)(const char *name))
{
	struct os_credentials *os = &config->os;
	const struct {
		char **field;
		const char *name;
		const char *legacy_name;
	} table[] = {
		{ &os->auth_url, "OS_AUTH_URL", NULL },
		{ &os->auth_type, "OS_AUTH_TYPE", NULL },
		{ &os->username, "OS_USERNAME", NULL },
		{ &os->user_id, "OS_USER_ID", NULL },
		{ &os->password, "OS_PASSWORD", NULL },
		{ &os->user_domain_name, "OS_USER_DOMAIN_NAME", NULL },
		{ &os->user_domain_id, "OS_USER_DOMAIN_ID", NULL },
		{ &os->project_name, "OS_PROJECT_NAME", "OS_TENANT_NAME" },
		{ &os->project_id, "OS_PROJECT_ID", "OS_TENANT_ID" },
		{ &os->project_domain_name, "OS_PROJECT_DOMAIN_NAME", NULL },
		{ &os->project_domain_id, "OS_PROJECT_DOMAIN_ID", NULL },
		{ &os->application_credential_id, "OS_APPLICATION_CREDENTIAL_ID", NULL },
		{ &os->application_credential_secret, "OS_APPLICATION_CREDENTIAL_SECRET", NULL },
		{ &os->region_name, "OS_REGION_NAME", NULL },
		{ &os->interface, "OS_INTERFACE", "OS_ENDPOINT_TYPE" },
		{ &os->cacert, "OS_CACERT", NULL },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(table); i++)
		take_env(table[i].field, getenv_fn, table[i].name, table[i].legacy_name);
	/* NetBox's token never comes from a file or the command line. */
	take_env(&config->netbox_token, getenv_fn, "INFRAFS_NETBOX_TOKEN", "NETBOX_TOKEN");
	take_env(&config->redis_password, getenv_fn, "INFRAFS_REDIS_PASSWORD", NULL);

	/* OS_DOMAIN_* fills in missing user and project domains. */
	const char *domain_name = getenv_fn("OS_DOMAIN_NAME");

	if (domain_name != NULL && *domain_name != '\0') {
		if (os->user_domain_name == NULL && os->user_domain_id == NULL)
			os->user_domain_name = g_strdup(domain_name);
		if (os->project_domain_name == NULL && os->project_domain_id == NULL)
			os->project_domain_name = g_strdup(domain_name);
	}
	/* "publicURL" is the legacy spelling of "public". */
	if (os->interface != NULL && g_str_has_suffix(os->interface, "URL"))
		os->interface[strlen(os->interface) - 3] = '\0';

	const char *insecure = getenv_fn("OS_INSECURE");

	os->insecure = insecure != NULL && (g_ascii_strcasecmp(insecure, "true") == 0 ||
					    g_strcmp0(insecure, "1") == 0);
}

gboolean config_parse_seconds(const char *text, guint *seconds)
{
	char *end = NULL;

	if (text == NULL || !g_ascii_isdigit(text[0]))
		return FALSE;
	errno = 0;
	guint64 value = g_ascii_strtoull(text, &end, 10);

	if (*end != '\0' || errno != 0 || value > CONFIG_MAX_SECONDS)
		return FALSE;
	*seconds = (guint)value;
	return TRUE;
}

static gboolean parse_seconds(const char *key, const char *value, guint *out, GError **error)
{
	if (config_parse_seconds(value, out))
		return TRUE;
	g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
		    "option %s: expected whole seconds from 0 to %d, got \"%s\"", key,
		    CONFIG_MAX_SECONDS, value ? value : "");
	return FALSE;
}

gboolean config_set_option(struct config *config, const char *key, const char *value,
			   gboolean *is_ours, GError **error)
{
	guint seconds = 0;

	*is_ours = TRUE;
	enum data_class continued;

	if (config->warm_listing && value == NULL && classes_from_name(key, &continued) &&
	    warmable(continued)) {
		config->warm[continued] = TRUE;
		return TRUE;
	}
	config->warm_listing = g_strcmp0(key, "warm") == 0;
	if (config->warm_listing)
		return parse_warm(config, value, error);
	if (g_strcmp0(key, "warm_rate") == 0) {
		char *end = NULL;
		double rate = value ? g_ascii_strtod(value, &end) : 0;

		if (value == NULL || end == value || *end != '\0' || !(rate > 0) || rate > 1000) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "option warm_rate: expected fetches per second above 0 and at "
				    "most 1000, got \"%s\"",
				    value ? value : "");
			return FALSE;
		}
		config->warm_rate_per_s = rate;
		return TRUE;
	}
	if (g_str_has_prefix(key, "ttl.") || g_str_has_prefix(key, "grace.")) {
		const char *class_name = strchr(key, '.') + 1;
		enum data_class data_class;

		if (!classes_from_name(class_name, &data_class)) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "option %s: no data class called \"%s\"", key, class_name);
			return FALSE;
		}
		if (!parse_seconds(key, value, &seconds, error))
			return FALSE;
		if (key[0] == 't') {
			config->ttl_s[data_class] = seconds;
		} else {
			config->grace_s[data_class] = seconds;
			config->grace_set[data_class] = TRUE;
		}
		return TRUE;
	}
	if (g_strcmp0(key, "max_stale") == 0)
		return parse_seconds(key, value, &config->max_stale_s, error);
	if (g_strcmp0(key, "cache_max_bytes") == 0)
		return parse_bytes(key, value, &config->cache_max_bytes, error);
	if (g_strcmp0(key, "timeout") == 0 || g_strcmp0(key, "connect_timeout") == 0) {
		if (!parse_seconds(key, value, &seconds, error))
			return FALSE;
		if (seconds == 0) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "option %s: must be at least 1 second", key);
			return FALSE;
		}
		if (key[0] == 't')
			config->request_timeout_ms = seconds * 1000;
		else
			config->connect_timeout_ms = seconds * 1000;
		return TRUE;
	}
	if (g_strcmp0(key, "netbox_url") == 0) {
		if (value == NULL || !(g_str_has_prefix(value, "http://") ||
				       g_str_has_prefix(value, "https://")) ||
		    strchr(value, '@') != NULL) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "option netbox_url: expected an http:// or https:// URL without "
				    "credentials (the token comes from INFRAFS_NETBOX_TOKEN)");
			return FALSE;
		}
		g_free(config->netbox_url);
		config->netbox_url = g_strdup(value);
		/* "http://host/netbox/" and "http://host/netbox" are one base. */
		while (g_str_has_suffix(config->netbox_url, "/"))
			config->netbox_url[strlen(config->netbox_url) - 1] = '\0';
		return TRUE;
	}
	if (g_strcmp0(key, "redis") == 0) {
		if (!redis_url_parse(value, &config->redis, error)) {
			g_prefix_error(error, "option redis: ");
			return FALSE;
		}
		return TRUE;
	}
	if (g_strcmp0(key, "retries") == 0) {
		guint64 retries = 0;

		if (value == NULL || !g_ascii_string_to_unsigned(value, 10, 0, CONFIG_MAX_RETRIES,
								 &retries, NULL)) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "option retries: expected a whole number from 0 to %d, got \"%s\"",
				    CONFIG_MAX_RETRIES, value ? value : "");
			return FALSE;
		}
		config->max_retries = (guint)retries;
		return TRUE;
	}
	if (g_strcmp0(key, "rate_limit") == 0) {
		char *end = NULL;
		double rate = value ? g_ascii_strtod(value, &end) : -1;

		if (value == NULL || end == value || *end != '\0' || !(rate >= 0) ||
		    rate > CONFIG_MAX_RATE_LIMIT_PER_S) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "option rate_limit: expected requests per second from 0 "
				    "(unlimited) to %.0f, got \"%s\"",
				    CONFIG_MAX_RATE_LIMIT_PER_S, value ? value : "");
			return FALSE;
		}
		config->rate_limit_per_s = rate;
		return TRUE;
	}
	*is_ours = FALSE;
	g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG, "unknown option %s", key);
	return FALSE;
}

gboolean config_validate(const struct config *config, GError **error)
{
	const struct os_credentials *os = &config->os;

	if (os->auth_url == NULL) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
			    "no Keystone URL: set OS_AUTH_URL (source your openrc)");
		return FALSE;
	}
	if (os->auth_type != NULL && g_strcmp0(os->auth_type, "password") != 0 &&
	    g_strcmp0(os->auth_type, "v3password") != 0 &&
	    g_strcmp0(os->auth_type, "v3applicationcredential") != 0) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
			    "OS_AUTH_TYPE=%s is not supported (password, v3applicationcredential)",
			    os->auth_type);
		return FALSE;
	}
	if (g_strcmp0(os->auth_type, "v3applicationcredential") == 0) {
		if (os->application_credential_secret == NULL ||
		    os->application_credential_id == NULL) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "application credential needs OS_APPLICATION_CREDENTIAL_ID "
				    "and OS_APPLICATION_CREDENTIAL_SECRET");
			return FALSE;
		}
		return TRUE;
	}
	if (os->username == NULL && os->user_id == NULL) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
			    "no user: set OS_USERNAME or OS_USER_ID");
		return FALSE;
	}
	if (os->password == NULL) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
			    "no password: set OS_PASSWORD");
		return FALSE;
	}
	if (os->project_name == NULL && os->project_id == NULL) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
			    "no project scope: set OS_PROJECT_NAME or OS_PROJECT_ID");
		return FALSE;
	}
	return TRUE;
}

/* ---- infrafs.conf ---------------------------------------------------------- */

char *config_default_file(void)
{
	return g_build_filename(g_get_user_config_dir(), "infrafs", "infrafs.conf", NULL);
}

/* The -o option a key of infrafs.conf stands for (owned), or NULL. */
static char *option_of(const char *group, const char *key)
{
	static const char *const plain[][3] = {
		/* group, key, option */
		{ "cache", "max_bytes", "cache_max_bytes" },
		{ "cache", "max_stale", "max_stale" },
		{ "api", "timeout", "timeout" },
		{ "api", "connect_timeout", "connect_timeout" },
		{ "api", "retries", "retries" },
		{ "api", "rate_limit", "rate_limit" },
		{ "warm", "classes", "warm" },
		{ "warm", "rate", "warm_rate" },
		{ "netbox", "url", "netbox_url" },
		{ "redis", "url", "redis" },
	};
	enum data_class data_class;

	if ((g_strcmp0(group, "ttl") == 0 || g_strcmp0(group, "grace") == 0) &&
	    classes_from_name(key, &data_class))
		return g_strconcat(group, ".", key, NULL);
	for (gsize i = 0; i < G_N_ELEMENTS(plain); i++)
		if (g_strcmp0(group, plain[i][0]) == 0 && g_strcmp0(key, plain[i][1]) == 0)
			return g_strdup(plain[i][2]);
	return NULL;
}

/* [gpu] name_rules: "glob=TYPE" items, in order. */
static gboolean load_gpu_name_rules(struct config *config, GKeyFile *file, GError **error)
{
	gsize n = 0;
	g_auto(GStrv) items = g_key_file_get_string_list(file, "gpu", "name_rules", &n, error);

	if (items == NULL)
		return FALSE;
	GPtrArray *rules = g_ptr_array_new_with_free_func(gpu_name_rule_free);

	for (gsize i = 0; i < n; i++) {
		g_autofree char *item = g_strstrip(g_strdup(items[i]));
		char *equals = strchr(item, '=');

		if (*item == '\0')
			continue;
		if (equals == NULL || equals == item || equals[1] == '\0') {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "expected GLOB=GPU_TYPE items separated by ';', got \"%s\"", item);
			g_ptr_array_unref(rules);
			return FALSE;
		}
		*equals = '\0';
		struct gpu_name_rule *rule = g_new0(struct gpu_name_rule, 1);

		rule->glob = g_strdup(g_strstrip(item));
		rule->gpu_type = g_strdup(g_strstrip(equals + 1));
		g_ptr_array_add(rules, rule);
	}
	g_clear_pointer(&config->gpu.name_rules, g_ptr_array_unref);
	config->gpu.name_rules = rules;
	return TRUE;
}

static gboolean load_gpu_key(struct config *config, GKeyFile *file, const char *key,
			     GError **error)
{
	if (g_strcmp0(key, "name_rules") == 0)
		return load_gpu_name_rules(config, file, error);
	if (g_strcmp0(key, "resource_classes") == 0) {
		g_auto(GStrv) classes = g_key_file_get_string_list(file, "gpu", key, NULL, error);

		if (classes == NULL)
			return FALSE;
		for (char **c = classes; *c; c++)
			g_strstrip(*c);
		if (classes[0] == NULL || *classes[0] == '\0') {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "expected resource classes (globs) separated by ';'");
			return FALSE;
		}
		g_strfreev(config->gpu.resource_classes);
		config->gpu.resource_classes = g_steal_pointer(&classes);
		return TRUE;
	}
	if (g_strcmp0(key, "flavor_format") == 0) {
		g_autofree char *format = g_key_file_get_string(file, "gpu", key, error);
		g_autofree char *problem = NULL;

		if (format == NULL)
			return FALSE;
		if (!derived_check_flavor_format(g_strstrip(format), &problem)) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG, "%s", problem);
			return FALSE;
		}
		g_free(config->gpu.flavor_format);
		config->gpu.flavor_format = g_steal_pointer(&format);
		return TRUE;
	}
	g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
		    "unknown key (expected name_rules, resource_classes or flavor_format)");
	return FALSE;
}

static gboolean load_key(struct config *config, GKeyFile *file, const char *group,
			 const char *key, GError **error)
{
	if (g_strcmp0(group, "gpu") == 0)
		return load_gpu_key(config, file, key, error);
	g_autofree char *option = option_of(group, key);

	if (option == NULL) {
		gboolean per_class = g_strcmp0(group, "ttl") == 0 || g_strcmp0(group, "grace") == 0;

		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
			    per_class ? "no data class called \"%s\"" : "unknown key \"%s\"", key);
		return FALSE;
	}
	g_autofree char *value = g_key_file_get_string(file, group, key, error);
	gboolean is_ours = TRUE;

	if (value == NULL)
		return FALSE;
	g_strstrip(value);
	/* warm takes the -o form "aggregates:hosts"; a file may use commas
	 * and spaces. */
	if (g_strcmp0(option, "warm") == 0) {
		g_auto(GStrv) names = g_strsplit_set(value, ",:", -1);

		for (char **name = names; *name != NULL; name++)
			g_strstrip(*name);
		g_free(value);
		value = g_strjoinv(":", names);
	}
	if (!config_set_option(config, option, value, &is_ours, error))
		return FALSE;
	config->warm_listing = FALSE;
	return TRUE;
}

gboolean config_load_file(struct config *config, const char *path, gboolean must_exist,
			  GError **error)
{
	static const char *const groups[] = { "ttl", "grace", "cache", "api", "warm",
					      "gpu", "netbox", "redis", NULL };
	g_autoptr(GKeyFile) file = g_key_file_new();
	g_autoptr(GError) local_error = NULL;

	if (!g_key_file_load_from_file(file, path, G_KEY_FILE_NONE, &local_error)) {
		if (!must_exist && g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return TRUE;
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG, "%s: %s", path,
			    local_error->message);
		return FALSE;
	}
	g_auto(GStrv) group_names = g_key_file_get_groups(file, NULL);

	for (char **group = group_names; *group != NULL; group++) {
		if (!g_strv_contains(groups, *group)) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "%s: [%s]: unknown section (expected ttl, grace, cache, api, "
				    "warm, gpu, netbox or redis)",
				    path, *group);
			return FALSE;
		}
		g_auto(GStrv) keys = g_key_file_get_keys(file, *group, NULL, NULL);

		for (char **key = keys; key != NULL && *key != NULL; key++) {
			if (!load_key(config, file, *group, *key, &local_error)) {
				g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
					    "%s: [%s] %s: %s", path, *group, *key,
					    local_error->message);
				return FALSE;
			}
		}
	}
	g_free(config->config_file);
	config->config_file = g_strdup(path);
	return TRUE;
}
