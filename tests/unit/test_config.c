/* Unit tests for config: defaults, OS_* environment, -o options, validation. */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "infrafs/config.h"
#include "infrafs/errors.h"

typedef struct config config;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(config, config_clear)

/* Whether `error` mentions `text`; FALSE without an error, so that a failed
 * non-fatal assertion before it does not turn into a crash. */
static gboolean mentions(const GError *error, const char *text)
{
	return error != NULL && strstr(error->message, text) != NULL;
}

/* ---- a table-driven getenv --------------------------------------------- */

struct env_var {
	const char *name;
	const char *value;
};

/* The table fake_getenv reads; set by load_env() for one call. */
static const struct env_var *fake_env;

static const char *fake_getenv(const char *name)
{
	for (const struct env_var *var = fake_env; var != NULL && var->name != NULL; var++)
		if (strcmp(var->name, name) == 0)
			return var->value;
	return NULL;
}

static void load_env(struct config *conf, const struct env_var *env)
{
	fake_env = env;
	config_load_env(conf, fake_getenv);
	fake_env = NULL;
}

/* A complete password login, as an openrc file sets it. */
static const struct env_var password_env[] = {
	{ "OS_AUTH_URL", "https://keystone.example.org:5000/v3" },
	{ "OS_USERNAME", "admin" },
	{ "OS_PASSWORD", "s3cret" },
	{ "OS_PROJECT_NAME", "admin" },
	{ "OS_USER_DOMAIN_NAME", "Default" },
	{ "OS_PROJECT_DOMAIN_NAME", "Default" },
	{ "OS_REGION_NAME", "RegionOne" },
	{ "OS_INTERFACE", "internal" },
	{ NULL, NULL },
};

/* ---- defaults ---------------------------------------------------------- */

static void test_defaults_match_design(void)
{
	g_auto(config) conf;

	config_init(&conf);
	/* design.md, "Cache semantics". */
	g_assert_cmpuint(conf.ttl_s[CLASS_AGGREGATES], ==, 3600);
	g_assert_cmpuint(conf.ttl_s[CLASS_FLAVORS], ==, 3600);
	g_assert_cmpuint(conf.ttl_s[CLASS_PROJECTS], ==, 3600);
	g_assert_cmpuint(conf.ttl_s[CLASS_QUOTAS], ==, 1800);
	g_assert_cmpuint(conf.ttl_s[CLASS_HOSTS], ==, 60);
	g_assert_cmpuint(conf.ttl_s[CLASS_PLACEMENT], ==, 60);
	g_assert_cmpuint(conf.ttl_s[CLASS_SERVERS], ==, 10);
	g_assert_cmpuint(conf.ttl_s[CLASS_NETBOX], ==, 1800);
	g_assert_cmpuint(conf.connect_timeout_ms, ==, 5000);
	g_assert_cmpuint(conf.request_timeout_ms, ==, 30000);
	g_assert_cmpuint(conf.fetch_wait_ms, ==, 60000);
	g_assert_null(conf.os.auth_url);
	g_assert_null(conf.os.password);
	g_assert_false(conf.os.insecure);
}

/* ---- config_set_option ------------------------------------------------- */

static void test_option_ttl(void)
{
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;
	gboolean is_ours = FALSE;

	config_init(&conf);
	g_assert_true(config_set_option(&conf, "ttl.hosts", "5", &is_ours, &error));
	g_assert_no_error(error);
	g_assert_true(is_ours);
	g_assert_cmpuint(conf.ttl_s[CLASS_HOSTS], ==, 5);
	/* Only that class changed. */
	g_assert_cmpuint(conf.ttl_s[CLASS_AGGREGATES], ==, 3600);
	g_assert_cmpuint(conf.ttl_s[CLASS_SERVERS], ==, 10);

	/* 0 means "always fetch" and is allowed; a day is the upper bound. */
	g_assert_true(config_set_option(&conf, "ttl.servers", "0", &is_ours, &error));
	g_assert_cmpuint(conf.ttl_s[CLASS_SERVERS], ==, 0);
	g_assert_true(config_set_option(&conf, "ttl.quotas", "86400", &is_ours, &error));
	g_assert_cmpuint(conf.ttl_s[CLASS_QUOTAS], ==, 86400);
	g_assert_no_error(error);
}

static void test_option_ttl_unknown_class(void)
{
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;
	gboolean is_ours = FALSE;

	config_init(&conf);
	g_assert_false(config_set_option(&conf, "ttl.bogus", "5", &is_ours, &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "ttl.bogus"));
	/* It is infrafs's own option, merely wrong: not for libfuse. */
	g_assert_true(is_ours);
}

static void test_option_ttl_bad_values(void)
{
	const char *bad[] = { "abc", "-1", "5s", "", " 5", "+5", "1.5", "0x10",
			      "99999999999999999999999", "86401", "4294967296", NULL };

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_auto(config) conf;
		g_autoptr(GError) error = NULL;
		gboolean is_ours = FALSE;

		config_init(&conf);
		g_test_message("ttl.hosts=%s", bad[i] ? bad[i] : "(no value)");
		g_assert_false(config_set_option(&conf, "ttl.hosts", bad[i], &is_ours, &error));
		g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
		g_assert_true(mentions(error, "ttl.hosts"));
		g_assert_true(is_ours);
		/* A bad value changes nothing. */
		g_assert_cmpuint(conf.ttl_s[CLASS_HOSTS], ==, 60);
	}
}

static void test_option_timeouts(void)
{
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;
	gboolean is_ours = FALSE;

	config_init(&conf);
	g_assert_true(config_set_option(&conf, "timeout", "10", &is_ours, &error));
	g_assert_no_error(error);
	g_assert_true(is_ours);
	g_assert_cmpuint(conf.request_timeout_ms, ==, 10000);
	g_assert_cmpuint(conf.connect_timeout_ms, ==, 5000);

	g_assert_true(config_set_option(&conf, "connect_timeout", "2", &is_ours, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(conf.connect_timeout_ms, ==, 2000);
	g_assert_cmpuint(conf.request_timeout_ms, ==, 10000);
}

static void test_option_retries_and_rate_limit(void)
{
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;
	gboolean is_ours = FALSE;

	config_init(&conf);
	g_assert_cmpuint(conf.max_retries, ==, CONFIG_DEFAULT_RETRIES);
	g_assert_cmpfloat(conf.rate_limit_per_s, ==, CONFIG_DEFAULT_RATE_LIMIT_PER_S);
	g_assert_true(config_set_option(&conf, "retries", "0", &is_ours, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(conf.max_retries, ==, 0);
	g_assert_true(config_set_option(&conf, "rate_limit", "2.5", &is_ours, &error));
	g_assert_no_error(error);
	g_assert_cmpfloat(conf.rate_limit_per_s, ==, 2.5);
	g_assert_true(config_set_option(&conf, "rate_limit", "0", &is_ours, &error));
	g_assert_cmpfloat(conf.rate_limit_per_s, ==, 0.0);
}

static void test_option_retries_and_rate_limit_bad_values(void)
{
	const char *const cases[][2] = {
		{ "retries", "-1" },   { "retries", "11" },  { "retries", "x" },
		{ "retries", NULL },   { "rate_limit", "-1" }, { "rate_limit", "fast" },
		{ "rate_limit", "1e9" }, { "rate_limit", "nan" }, { "rate_limit", NULL },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(config) conf;
		g_autoptr(GError) error = NULL;
		gboolean is_ours = FALSE;

		config_init(&conf);
		g_assert_false(config_set_option(&conf, cases[i][0], cases[i][1], &is_ours, &error));
		g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
		g_assert_true(mentions(error, cases[i][0]));
		g_assert_true(is_ours);
		g_assert_cmpuint(conf.max_retries, ==, CONFIG_DEFAULT_RETRIES);
		g_assert_cmpfloat(conf.rate_limit_per_s, ==, CONFIG_DEFAULT_RATE_LIMIT_PER_S);
	}
}

static void test_option_timeout_zero_rejected(void)
{
	const char *keys[] = { "timeout", "connect_timeout" };

	for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
		g_auto(config) conf;
		g_autoptr(GError) error = NULL;
		gboolean is_ours = FALSE;

		config_init(&conf);
		g_assert_false(config_set_option(&conf, keys[i], "0", &is_ours, &error));
		g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
		g_assert_true(mentions(error, keys[i]));
		g_assert_true(is_ours);
		g_assert_cmpuint(conf.request_timeout_ms, ==, 30000);
		g_assert_cmpuint(conf.connect_timeout_ms, ==, 5000);
		g_clear_error(&error);

		g_assert_false(config_set_option(&conf, keys[i], "soon", &is_ours, &error));
		g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
		g_assert_true(is_ours);
	}
}

static void test_option_unknown_not_ours(void)
{
	const char *keys[] = { "allow_other", "default_permissions", "ttl", "timeouts" };

	for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
		g_auto(config) conf;
		g_autoptr(GError) error = NULL;
		gboolean is_ours = TRUE;

		config_init(&conf);
		g_assert_false(config_set_option(&conf, keys[i], "1", &is_ours, &error));
		g_assert_false(is_ours);
		g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
		g_assert_true(mentions(error, keys[i]));
	}
}

/* ---- config_load_env --------------------------------------------------- */

static void test_env_password_login(void)
{
	g_auto(config) conf;

	config_init(&conf);
	load_env(&conf, password_env);
	g_assert_cmpstr(conf.os.auth_url, ==, "https://keystone.example.org:5000/v3");
	g_assert_cmpstr(conf.os.username, ==, "admin");
	g_assert_cmpstr(conf.os.password, ==, "s3cret");
	g_assert_cmpstr(conf.os.project_name, ==, "admin");
	g_assert_cmpstr(conf.os.user_domain_name, ==, "Default");
	g_assert_cmpstr(conf.os.project_domain_name, ==, "Default");
	g_assert_cmpstr(conf.os.region_name, ==, "RegionOne");
	g_assert_cmpstr(conf.os.interface, ==, "internal");
	g_assert_null(conf.os.project_id);
	g_assert_null(conf.os.application_credential_id);
	g_assert_false(conf.os.insecure);
	/* The environment does not touch the cache settings. */
	g_assert_cmpuint(conf.ttl_s[CLASS_HOSTS], ==, 60);
}

static void test_env_tenant_name_alias(void)
{
	g_auto(config) legacy;
	g_auto(config) both;
	const struct env_var legacy_env[] = {
		{ "OS_TENANT_NAME", "old-project" },
		{ "OS_TENANT_ID", "0123abcd" },
		{ NULL, NULL },
	};
	const struct env_var both_env[] = {
		{ "OS_TENANT_NAME", "old-project" },
		{ "OS_PROJECT_NAME", "new-project" },
		{ NULL, NULL },
	};

	config_init(&legacy);
	load_env(&legacy, legacy_env);
	g_assert_cmpstr(legacy.os.project_name, ==, "old-project");
	g_assert_cmpstr(legacy.os.project_id, ==, "0123abcd");

	config_init(&both);
	load_env(&both, both_env);
	g_assert_cmpstr(both.os.project_name, ==, "new-project");
}

static void test_env_domain_name_fills_in(void)
{
	g_auto(config) bare;
	g_auto(config) partial;
	const struct env_var bare_env[] = {
		{ "OS_DOMAIN_NAME", "Default" },
		{ NULL, NULL },
	};
	const struct env_var partial_env[] = {
		{ "OS_DOMAIN_NAME", "Default" },
		{ "OS_USER_DOMAIN_ID", "default" },
		{ "OS_PROJECT_DOMAIN_NAME", "Projects" },
		{ NULL, NULL },
	};

	config_init(&bare);
	load_env(&bare, bare_env);
	g_assert_cmpstr(bare.os.user_domain_name, ==, "Default");
	g_assert_cmpstr(bare.os.project_domain_name, ==, "Default");

	/* Only missing domains are filled in. */
	config_init(&partial);
	load_env(&partial, partial_env);
	g_assert_null(partial.os.user_domain_name);
	g_assert_cmpstr(partial.os.user_domain_id, ==, "default");
	g_assert_cmpstr(partial.os.project_domain_name, ==, "Projects");
}

static void test_env_interface_legacy_spelling(void)
{
	const struct {
		const char *variable;
		const char *value;
		const char *interface;
	} cases[] = {
		{ "OS_INTERFACE", "publicURL", "public" },
		{ "OS_INTERFACE", "internalURL", "internal" },
		{ "OS_INTERFACE", "admin", "admin" },
		{ "OS_ENDPOINT_TYPE", "adminURL", "admin" },
		{ "OS_ENDPOINT_TYPE", "public", "public" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(config) conf;
		const struct env_var env[] = {
			{ cases[i].variable, cases[i].value },
			{ NULL, NULL },
		};

		config_init(&conf);
		load_env(&conf, env);
		g_assert_cmpstr(conf.os.interface, ==, cases[i].interface);
	}
}

static void test_env_insecure(void)
{
	const struct {
		const char *value;
		gboolean insecure;
	} cases[] = {
		{ "true", TRUE }, { "True", TRUE }, { "TRUE", TRUE }, { "1", TRUE },
		{ "false", FALSE }, { "0", FALSE }, { "", FALSE }, { NULL, FALSE },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(config) conf;
		const struct env_var env[] = {
			{ cases[i].value ? "OS_INSECURE" : "UNRELATED", cases[i].value },
			{ NULL, NULL },
		};

		config_init(&conf);
		load_env(&conf, env);
		g_test_message("OS_INSECURE=%s", cases[i].value ? cases[i].value : "(unset)");
		g_assert_cmpint(conf.os.insecure, ==, cases[i].insecure);
	}
}

static void test_env_empty_is_unset(void)
{
	g_auto(config) conf;
	const struct env_var env[] = {
		{ "OS_USERNAME", "" },
		{ "OS_PROJECT_NAME", "" },
		{ "OS_TENANT_NAME", "fallback" },
		{ NULL, NULL },
	};

	config_init(&conf);
	load_env(&conf, env);
	g_assert_null(conf.os.username);
	g_assert_cmpstr(conf.os.project_name, ==, "fallback");
}

static void test_env_application_credential(void)
{
	g_auto(config) conf;
	const struct env_var env[] = {
		{ "OS_AUTH_URL", "https://keystone.example.org/v3" },
		{ "OS_AUTH_TYPE", "v3applicationcredential" },
		{ "OS_APPLICATION_CREDENTIAL_ID", "ac-id" },
		{ "OS_APPLICATION_CREDENTIAL_SECRET", "ac-secret" },
		{ NULL, NULL },
	};

	config_init(&conf);
	load_env(&conf, env);
	g_assert_cmpstr(conf.os.auth_type, ==, "v3applicationcredential");
	g_assert_cmpstr(conf.os.application_credential_id, ==, "ac-id");
	g_assert_cmpstr(conf.os.application_credential_secret, ==, "ac-secret");
}

/* ---- config_validate --------------------------------------------------- */

/* The password environment without `dropped`, validated. */
static void assert_missing_named(const char *dropped, const char *named)
{
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;
	struct env_var env[G_N_ELEMENTS(password_env)];
	guint n = 0;

	for (guint i = 0; password_env[i].name != NULL; i++)
		if (strcmp(password_env[i].name, dropped) != 0)
			env[n++] = password_env[i];
	env[n] = (struct env_var){ NULL, NULL };

	config_init(&conf);
	load_env(&conf, env);
	g_assert_false(config_validate(&conf, &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_test_message("without %s: %s", dropped, error ? error->message : "no error");
	g_assert_true(mentions(error, named));
}

static void test_validate_complete_password(void)
{
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;

	config_init(&conf);
	load_env(&conf, password_env);
	g_assert_true(config_validate(&conf, &error));
	g_assert_no_error(error);
}

static void test_validate_names_missing_variable(void)
{
	assert_missing_named("OS_AUTH_URL", "OS_AUTH_URL");
	assert_missing_named("OS_PASSWORD", "OS_PASSWORD");
	assert_missing_named("OS_USERNAME", "OS_USERNAME");
	assert_missing_named("OS_PROJECT_NAME", "OS_PROJECT_NAME");
}

static void test_validate_user_id_instead_of_name(void)
{
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;
	const struct env_var env[] = {
		{ "OS_AUTH_URL", "https://keystone.example.org/v3" },
		{ "OS_USER_ID", "u-123" },
		{ "OS_PASSWORD", "pw" },
		{ "OS_PROJECT_ID", "p-456" },
		{ NULL, NULL },
	};

	config_init(&conf);
	load_env(&conf, env);
	g_assert_true(config_validate(&conf, &error));
	g_assert_no_error(error);
}

static void test_validate_application_credential(void)
{
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;
	const struct env_var env[] = {
		{ "OS_AUTH_URL", "https://keystone.example.org/v3" },
		{ "OS_AUTH_TYPE", "v3applicationcredential" },
		{ "OS_APPLICATION_CREDENTIAL_ID", "ac-id" },
		{ "OS_APPLICATION_CREDENTIAL_SECRET", "ac-secret" },
		{ NULL, NULL },
	};

	/* No user, password or project needed. */
	config_init(&conf);
	load_env(&conf, env);
	g_assert_true(config_validate(&conf, &error));
	g_assert_no_error(error);
}

static void test_validate_application_credential_missing_secret(void)
{
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;
	const struct env_var env[] = {
		{ "OS_AUTH_URL", "https://keystone.example.org/v3" },
		{ "OS_AUTH_TYPE", "v3applicationcredential" },
		{ "OS_APPLICATION_CREDENTIAL_ID", "ac-id" },
		{ "OS_USERNAME", "admin" },
		{ "OS_PASSWORD", "pw" },
		{ NULL, NULL },
	};

	config_init(&conf);
	load_env(&conf, env);
	g_assert_false(config_validate(&conf, &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "OS_APPLICATION_CREDENTIAL_SECRET"));
}

static void test_validate_unsupported_auth_type(void)
{
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;
	const struct env_var env[] = {
		{ "OS_AUTH_URL", "https://keystone.example.org/v3" },
		{ "OS_AUTH_TYPE", "token" },
		{ NULL, NULL },
	};

	config_init(&conf);
	load_env(&conf, env);
	g_assert_false(config_validate(&conf, &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "OS_AUTH_TYPE"));
}

static void test_parse_seconds(void)
{
	guint seconds = 7;

	g_assert_true(config_parse_seconds("0", &seconds));
	g_assert_cmpuint(seconds, ==, 0);
	g_assert_true(config_parse_seconds("86400", &seconds));
	g_assert_cmpuint(seconds, ==, 86400);
	for (const char *const *bad = (const char *const[]){ "86401", "-1", "+5", " 5", "5s", "",
							    "99999999999999999999", NULL };
	     *bad != NULL; bad++)
		g_assert_false(config_parse_seconds(*bad, &seconds));
	g_assert_false(config_parse_seconds(NULL, &seconds));
	g_assert_cmpuint(seconds, ==, 86400); /* untouched by failures */
}

/* ---- infrafs.conf -------------------------------------------------------- */

/* `text` written to a fresh temporary file; returns its path (owned). */
static char *conf_file(const char *text)
{
	g_autoptr(GError) error = NULL;
	char *path = NULL;
	int fd = g_file_open_tmp("infrafs-test-XXXXXX.conf", &path, &error);

	g_assert_no_error(error);
	close(fd);
	g_assert_true(g_file_set_contents(path, text, -1, &error));
	return path;
}

static void test_file_sets_what_options_set(void)
{
	g_autofree char *path = conf_file("# comment\n"
					  "[ttl]\nhosts = 15\nservers=5\n"
					  "[grace]\nhosts = 30\n"
					  "[cache]\nmax_bytes = 64M\nmax_stale = 600\n"
					  "[api]\ntimeout = 7\nconnect_timeout = 2\nretries = 1\n"
					  "rate_limit = 2.5\n"
					  "[warm]\nclasses = aggregates, hosts\nrate = 4\n");
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;

	config_init(&conf);
	g_assert_true(config_load_file(&conf, path, TRUE, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(conf.ttl_s[CLASS_HOSTS], ==, 15);
	g_assert_cmpuint(conf.ttl_s[CLASS_SERVERS], ==, 5);
	g_assert_cmpuint(conf.grace_s[CLASS_HOSTS], ==, 30);
	g_assert_true(conf.grace_set[CLASS_HOSTS]);
	g_assert_cmpuint(conf.cache_max_bytes, ==, 64 * 1024 * 1024);
	g_assert_cmpuint(conf.max_stale_s, ==, 600);
	g_assert_cmpuint(conf.request_timeout_ms, ==, 7000);
	g_assert_cmpuint(conf.connect_timeout_ms, ==, 2000);
	g_assert_cmpuint(conf.max_retries, ==, 1);
	g_assert_cmpfloat(conf.rate_limit_per_s, ==, 2.5);
	g_assert_true(conf.warm[CLASS_AGGREGATES] && conf.warm[CLASS_HOSTS]);
	g_assert_false(conf.warm[CLASS_FLAVORS]);
	g_assert_cmpfloat(conf.warm_rate_per_s, ==, 4.0);
	g_assert_cmpstr(conf.config_file, ==, path);
	g_unlink(path);
}

static void test_options_after_the_file_override_it(void)
{
	g_autofree char *path = conf_file("[ttl]\nhosts = 15\nflavors = 20\n");
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;
	gboolean is_ours = FALSE;

	config_init(&conf);
	g_assert_true(config_load_file(&conf, path, TRUE, &error));
	g_assert_true(config_set_option(&conf, "ttl.hosts", "3", &is_ours, &error));
	g_assert_cmpuint(conf.ttl_s[CLASS_HOSTS], ==, 3);
	g_assert_cmpuint(conf.ttl_s[CLASS_FLAVORS], ==, 20);
	g_unlink(path);
}

static void test_file_gpu_rules(void)
{
	g_autofree char *path =
		conf_file("[gpu]\nname_rules = *b200*=B200; gpu-x*=X9-PCIE\n"
			  "resource_classes = CUSTOM_ACCEL_*\nflavor_format = gpu.{gpu}.{count}\n");
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;

	config_init(&conf);
	g_assert_true(config_load_file(&conf, path, TRUE, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(derived_gpu_type_from_name(&conf.gpu, "node-B200-1"), ==, "B200");
	g_assert_cmpstr(derived_gpu_type_from_name(&conf.gpu, "gpu-x7"), ==, "X9-PCIE");
	/* The file's rules replace the built-in ones. */
	g_assert_null(derived_gpu_type_from_name(&conf.gpu, "node-h100-1"));
	g_assert_true(derived_is_gpu_class(&conf.gpu, "CUSTOM_ACCEL_B200"));
	g_assert_false(derived_is_gpu_class(&conf.gpu, "VGPU"));
	g_autofree char *flavor = derived_flavor(&conf.gpu, "X9-PCIE", "4");

	g_assert_cmpstr(flavor, ==, "gpu.X9.4");
	g_unlink(path);
}

static void test_file_errors_name_file_section_and_key(void)
{
	const char *const cases[][3] = {
		/* content, what the message must name, and one more thing */
		{ "[ttl]\nhosts = soon\n", "[ttl] hosts", "soon" },
		{ "[ttl]\nhostz = 5\n", "[ttl] hostz", "data class" },
		{ "[api]\nretries = 99\n", "[api] retries", "99" },
		{ "[api]\nspeed = 1\n", "[api] speed", "unknown key" },
		{ "[network]\nurl = x\n", "[network]", "unknown section" },
		{ "[netbox]\nurl = x\n", "[netbox] url", "http://" },
		{ "[netbox]\nurl = https://u:p@nb\n", "[netbox] url", "INFRAFS_NETBOX_TOKEN" },
		{ "[gpu]\nflavor_format = {type}x{count}\n", "[gpu] flavor_format", "{type}" },
		{ "[gpu]\nname_rules = h100\n", "[gpu] name_rules", "GLOB=GPU_TYPE" },
		{ "[gpu]\ncolour = green\n", "[gpu] colour", "unknown key" },
		{ "not a key file\n", "infrafs-test", "" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *path = conf_file(cases[i][0]);
		g_auto(config) conf;
		g_autoptr(GError) error = NULL;

		config_init(&conf);
		g_assert_false(config_load_file(&conf, path, TRUE, &error));
		g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
		g_test_message("%s", error->message);
		g_assert_true(mentions(error, path));
		g_assert_true(mentions(error, cases[i][1]));
		g_assert_true(mentions(error, cases[i][2]));
		g_unlink(path);
	}
}

static void test_missing_file(void)
{
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;

	config_init(&conf);
	/* The default file may be absent; a file asked for by name may not. */
	g_assert_true(config_load_file(&conf, "/nonexistent/infrafs.conf", FALSE, &error));
	g_assert_no_error(error);
	g_assert_null(conf.config_file);
	g_assert_false(config_load_file(&conf, "/nonexistent/infrafs.conf", TRUE, &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "/nonexistent/infrafs.conf"));
}

/* ---- redis ------------------------------------------------------------- */

static void test_redis_option_file_and_env(void)
{
	g_autofree char *path = conf_file("[redis]\nurl = redis://cache.example:6390/2\n");
	static const struct env_var env[] = {
		{ "INFRAFS_REDIS_PASSWORD", "from-env" },
		{ NULL, NULL },
	};
	g_auto(config) conf;
	g_autoptr(GError) error = NULL;
	gboolean is_ours = FALSE;

	config_init(&conf);
	g_assert_null(conf.redis.host);
	g_assert_true(config_load_file(&conf, path, TRUE, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(conf.redis.host, ==, "cache.example");
	g_assert_cmpuint(conf.redis.port, ==, 6390);
	g_assert_cmpuint(conf.redis.db, ==, 2);
	/* -o overrides the file. */
	g_assert_true(config_set_option(&conf, "redis", "redis://u:pw@other", &is_ours, &error));
	g_assert_cmpstr(conf.redis.host, ==, "other");
	g_assert_cmpstr(conf.redis.password, ==, "pw");
	load_env(&conf, env);
	g_assert_cmpstr(conf.redis_password, ==, "from-env");
}

static void test_redis_bad_values(void)
{
	static const char *const bad[] = { "http://x", "redis://host:notaport", "rediss://host" };
	g_auto(config) conf;

	config_init(&conf);
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		gboolean is_ours = FALSE;

		g_assert_false(config_set_option(&conf, "redis", bad[i], &is_ours, &error));
		g_assert_true(is_ours);
		g_assert_true(mentions(error, "option redis"));
	}
	g_assert_null(conf.redis.host);
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	/* Report every failing test, not only the first one. */
	g_test_set_nonfatal_assertions();

	g_test_add_func("/config/defaults/match-design", test_defaults_match_design);
	g_test_add_func("/config/option/ttl", test_option_ttl);
	g_test_add_func("/config/option/ttl-unknown-class", test_option_ttl_unknown_class);
	g_test_add_func("/config/option/ttl-bad-values", test_option_ttl_bad_values);
	g_test_add_func("/config/option/timeouts", test_option_timeouts);
	g_test_add_func("/config/file/sets-what-options-set", test_file_sets_what_options_set);
	g_test_add_func("/config/file/options-after-override", test_options_after_the_file_override_it);
	g_test_add_func("/config/file/gpu-rules", test_file_gpu_rules);
	g_test_add_func("/config/file/errors-name-file-section-key",
			test_file_errors_name_file_section_and_key);
	g_test_add_func("/config/file/missing", test_missing_file);
	g_test_add_func("/config/option/retries-and-rate-limit", test_option_retries_and_rate_limit);
	g_test_add_func("/config/option/retries-and-rate-limit-bad-values",
			test_option_retries_and_rate_limit_bad_values);
	g_test_add_func("/config/option/timeout-zero-rejected", test_option_timeout_zero_rejected);
	g_test_add_func("/config/option/unknown-not-ours", test_option_unknown_not_ours);
	g_test_add_func("/config/env/password-login", test_env_password_login);
	g_test_add_func("/config/env/tenant-name-alias", test_env_tenant_name_alias);
	g_test_add_func("/config/env/domain-name-fills-in", test_env_domain_name_fills_in);
	g_test_add_func("/config/env/interface-legacy-spelling", test_env_interface_legacy_spelling);
	g_test_add_func("/config/env/insecure", test_env_insecure);
	g_test_add_func("/config/env/empty-is-unset", test_env_empty_is_unset);
	g_test_add_func("/config/env/application-credential", test_env_application_credential);
	g_test_add_func("/config/validate/complete-password", test_validate_complete_password);
	g_test_add_func("/config/validate/names-missing-variable",
			test_validate_names_missing_variable);
	g_test_add_func("/config/validate/user-id-instead-of-name",
			test_validate_user_id_instead_of_name);
	g_test_add_func("/config/validate/application-credential",
			test_validate_application_credential);
	g_test_add_func("/config/validate/application-credential-missing-secret",
			test_validate_application_credential_missing_secret);
	g_test_add_func("/config/validate/unsupported-auth-type", test_validate_unsupported_auth_type);

	g_test_add_func("/config/parse-seconds", test_parse_seconds);
	g_test_add_func("/config/redis/option-file-and-env", test_redis_option_file_and_env);
	g_test_add_func("/config/redis/bad-values", test_redis_bad_values);
	return g_test_run();
}
