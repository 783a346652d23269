/* Unit tests for clouds_yaml: the search order, secure.yaml's deep merge,
 * choosing the cloud, the keys read, precedence over the OS_* environment,
 * and error messages that name the file and the key.
 *
 * Each test gets a temporary directory with four roots in it: the "current
 * directory" (passed as `cwd`), $HOME, $XDG_CONFIG_HOME and the site
 * directory ($XDG_CONFIG_DIRS). The environment is a table read through a
 * fake getenv, so the real one never matters. Only /etc/openstack cannot be
 * redirected; tests that need "no file anywhere" skip when it has one. */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "infrafs/clouds_yaml.h"
#include "infrafs/config.h"
#include "infrafs/errors.h"

#define PASSWORD "pw-from-clouds"
#define SECURE_PASSWORD "pw-from-secure"

struct fixture {
	char *root;          /* the temporary directory, removed afterwards */
	char *cwd;           /* root/cwd */
	char *home;          /* root/home, $HOME */
	char *xdg_home;      /* root/xdg-home; $XDG_CONFIG_HOME only when a test sets it */
	char *site;          /* root/site, $XDG_CONFIG_DIRS */
	GHashTable *env;     /* the fake environment: name -> value, both owned */
	struct config conf;
};

/* The environment fake_getenv reads: the running test's. */
static GHashTable *fake_env;

static const char *fake_getenv(const char *name)
{
	return fake_env != NULL ? g_hash_table_lookup(fake_env, name) : NULL;
}

static void setenv_fake(struct fixture *fx, const char *name, const char *value)
{
	g_hash_table_replace(fx->env, g_strdup(name), g_strdup(value));
}

static void remove_tree(const char *path)
{
	GDir *dir = g_dir_open(path, 0, NULL);
	const char *name;

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree char *child = g_build_filename(path, name, NULL);

		if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
			remove_tree(child);
		else
			g_unlink(child);
	}
	if (dir != NULL)
		g_dir_close(dir);
	g_rmdir(path);
}

static void fixture_set_up(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	fx->root = g_dir_make_tmp("infrafs-clouds-XXXXXX", &error);
	g_assert_no_error(error);
	fx->cwd = g_build_filename(fx->root, "cwd", NULL);
	fx->home = g_build_filename(fx->root, "home", NULL);
	fx->xdg_home = g_build_filename(fx->root, "xdg-home", NULL);
	fx->site = g_build_filename(fx->root, "site", NULL);
	g_assert_cmpint(g_mkdir(fx->cwd, 0700), ==, 0);
	g_assert_cmpint(g_mkdir(fx->home, 0700), ==, 0);
	fx->env = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	setenv_fake(fx, "HOME", fx->home);
	setenv_fake(fx, "XDG_CONFIG_DIRS", fx->site);
	fake_env = fx->env;
	config_init(&fx->conf);
}

static void fixture_tear_down(struct fixture *fx, gconstpointer data)
{
	config_clear(&fx->conf);
	fake_env = NULL;
	g_hash_table_unref(fx->env);
	remove_tree(fx->root);
	g_free(fx->root);
	g_free(fx->cwd);
	g_free(fx->home);
	g_free(fx->xdg_home);
	g_free(fx->site);
}

/* Write `text` to `dir`/`name`, making `dir`; returns the path. */
static char *write_file(const char *dir, const char *name, const char *text)
{
	g_autoptr(GError) error = NULL;
	char *path = g_build_filename(dir, name, NULL);

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	g_file_set_contents(path, text, -1, &error);
	g_assert_no_error(error);
	return path;
}

static void write_in(const char *dir, const char *name, const char *text)
{
	g_free(write_file(dir, name, text));
}

/* The path of `name` under `base` (write_file makes it). */
static char *subdir(const char *base, const char *name)
{
	return g_build_filename(base, name, NULL);
}

/* As main.c does it: the environment first, then clouds.yaml. */
static gboolean apply(struct fixture *fx, const char *cloud_name, GError **error)
{
	config_load_env(&fx->conf, fake_getenv);
	return clouds_yaml_apply(&fx->conf, cloud_name, fx->cwd, fake_getenv, error);
}

/* Whether `error` mentions `text`; FALSE without an error. */
static gboolean mentions(const GError *error, const char *text)
{
	return error != NULL && strstr(error->message, text) != NULL;
}

static gboolean system_dir_has_clouds(void)
{
	const char *names[] = { "clouds.yaml", "clouds.yml", "clouds.json",
				"secure.yaml", "secure.yml", "secure.json" };

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *path = g_build_filename("/etc/openstack", names[i], NULL);

		if (g_file_test(path, G_FILE_TEST_EXISTS))
			return TRUE;
	}
	return FALSE;
}

/* A cloud whose auth_url tells which file it came from. */
static char *cloud_yaml(const char *name, const char *auth_url)
{
	return g_strdup_printf("clouds:\n"
			       "  %s:\n"
			       "    auth:\n"
			       "      auth_url: %s\n"
			       "      username: admin\n"
			       "      password: " PASSWORD "\n"
			       "      project_name: admin\n"
			       "      user_domain_name: Default\n"
			       "      project_domain_name: Default\n",
			       name, auth_url);
}

static void write_cloud(const char *dir, const char *file, const char *name, const char *url)
{
	g_autofree char *text = cloud_yaml(name, url);

	write_in(dir, file, text);
}

/* A password cloud without its password, and another cloud. */
static const char two_clouds[] = "clouds:\n"
				 "  prod:\n"
				 "    region_name: RegionOne\n"
				 "    auth:\n"
				 "      auth_url: https://prod.example:5000/v3\n"
				 "      username: svc\n"
				 "      project_name: ops\n"
				 "      user_domain_name: Default\n"
				 "      project_domain_name: Default\n"
				 "  lab:\n"
				 "    auth:\n"
				 "      auth_url: https://lab.example:5000/v3\n"
				 "      username: lab\n"
				 "      password: lab-pw\n"
				 "      project_id: p-lab\n";

static const char prod_secret[] = "clouds:\n"
				  "  prod:\n"
				  "    auth:\n"
				  "      password: " SECURE_PASSWORD "\n";

/* ---- search order ----------------------------------------------------- */

static void test_search_client_config_file_wins(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *elsewhere = subdir(fx->root, "elsewhere");

	write_cloud(elsewhere, "mine.yaml", "c", "https://explicit.example/v3");
	write_cloud(fx->cwd, "clouds.yaml", "c", "https://cwd.example/v3");
	g_autofree char *path = g_build_filename(elsewhere, "mine.yaml", NULL);

	setenv_fake(fx, "OS_CLIENT_CONFIG_FILE", path);
	g_assert_true(apply(fx, "c", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://explicit.example/v3");
}

static void test_search_client_config_file_relative_to_cwd(struct fixture *fx,
							  gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = subdir(fx->cwd, "conf");

	write_cloud(dir, "x.yaml", "c", "https://relative.example/v3");
	setenv_fake(fx, "OS_CLIENT_CONFIG_FILE", "conf/x.yaml");
	g_assert_true(apply(fx, "c", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://relative.example/v3");
}

static void test_search_cwd_beats_user_dirs(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *xdg = subdir(fx->xdg_home, "openstack");
	g_autofree char *home = g_build_filename(fx->home, ".config", "openstack", NULL);

	write_cloud(fx->cwd, "clouds.yaml", "c", "https://cwd.example/v3");
	write_cloud(xdg, "clouds.yaml", "c", "https://xdg.example/v3");
	write_cloud(home, "clouds.yaml", "c", "https://home.example/v3");
	setenv_fake(fx, "XDG_CONFIG_HOME", fx->xdg_home);
	g_assert_true(apply(fx, "c", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://cwd.example/v3");
}

static void test_search_xdg_config_home_beats_home(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *xdg = subdir(fx->xdg_home, "openstack");
	g_autofree char *home = g_build_filename(fx->home, ".config", "openstack", NULL);

	write_cloud(xdg, "clouds.yaml", "c", "https://xdg.example/v3");
	write_cloud(home, "clouds.yaml", "c", "https://home.example/v3");
	setenv_fake(fx, "XDG_CONFIG_HOME", fx->xdg_home);
	g_assert_true(apply(fx, "c", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://xdg.example/v3");
}

static void test_search_home_then_site(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *home = g_build_filename(fx->home, ".config", "openstack", NULL);
	g_autofree char *site = subdir(fx->site, "openstack");

	/* $XDG_CONFIG_HOME unset: ~/.config/openstack, before the site dir. */
	write_cloud(home, "clouds.yaml", "c", "https://home.example/v3");
	write_cloud(site, "clouds.yaml", "c", "https://site.example/v3");
	g_assert_true(apply(fx, "c", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://home.example/v3");
}

static void test_search_site_dir(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *site = subdir(fx->site, "openstack");

	write_cloud(site, "clouds.yaml", "c", "https://site.example/v3");
	g_assert_true(apply(fx, "c", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://site.example/v3");
}

static void test_search_yaml_before_yml_and_json(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_cloud(fx->cwd, "clouds.yml", "c", "https://yml.example/v3");
	write_in(fx->cwd, "clouds.json",
		 "{\"clouds\": {\"c\": {\"auth\": {\"auth_url\": \"https://json.example/v3\","
		 " \"username\": \"u\", \"password\": \"p\", \"project_id\": \"p1\"}}}}");
	g_assert_true(apply(fx, "c", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://yml.example/v3");

	write_cloud(fx->cwd, "clouds.yaml", "c", "https://yaml.example/v3");
	g_assert_true(apply(fx, "c", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://yaml.example/v3");
}

static void test_search_json_file(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.json",
		 "{\"clouds\": {\"c\": {\"auth\": {\"auth_url\": \"https://json.example/v3\","
		 " \"username\": \"u\", \"password\": \"p\", \"project_id\": \"p1\"},"
		 " \"verify\": false}}}");
	g_assert_true(apply(fx, "c", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://json.example/v3");
	g_assert_true(fx->conf.os.insecure);
}

static void test_search_first_file_wins_whole(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *home = g_build_filename(fx->home, ".config", "openstack", NULL);

	/* Files are not merged across directories: ./clouds.yaml hides b. */
	write_cloud(fx->cwd, "clouds.yaml", "a", "https://cwd.example/v3");
	write_cloud(home, "clouds.yaml", "b", "https://home.example/v3");
	g_assert_false(apply(fx, "b", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "no cloud \"b\""));
}

/* ---- secure.yaml ------------------------------------------------------ */

static void test_secure_password_deep_merged(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *home = g_build_filename(fx->home, ".config", "openstack", NULL);

	/* Each kind is searched on its own: clouds in ./, secure in ~. */
	write_in(fx->cwd, "clouds.yaml", two_clouds);
	write_in(home, "secure.yaml", prod_secret);
	g_assert_true(apply(fx, "prod", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.password, ==, SECURE_PASSWORD);
	/* Merged key by key: the rest of auth and the entry stay. */
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://prod.example:5000/v3");
	g_assert_cmpstr(fx->conf.os.username, ==, "svc");
	g_assert_cmpstr(fx->conf.os.project_name, ==, "ops");
	g_assert_cmpstr(fx->conf.os.region_name, ==, "RegionOne");
}

static void test_secure_replaces_scalars(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *secure = subdir(fx->root, "secrets");
	g_autofree char *path = write_file(secure, "s.yaml",
					   "clouds:\n"
					   "  lab:\n"
					   "    region_name: RegionTwo\n"
					   "    auth: {password: from-secure}\n");

	write_in(fx->cwd, "clouds.yaml", two_clouds);
	setenv_fake(fx, "OS_CLIENT_SECURE_FILE", path);
	g_assert_true(apply(fx, "lab", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.password, ==, "from-secure");
	g_assert_cmpstr(fx->conf.os.region_name, ==, "RegionTwo");
	g_assert_cmpstr(fx->conf.os.username, ==, "lab");
}

static void test_secure_missing_password_names_both_files(struct fixture *fx,
							 gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *clouds = write_file(fx->cwd, "clouds.yaml", two_clouds);
	g_autofree char *secure = write_file(fx->cwd, "secure.yaml",
					     "clouds:\n  lab:\n    auth: {password: x}\n");

	g_assert_false(apply(fx, "prod", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_test_message("%s", error ? error->message : "no error");
	g_assert_true(mentions(error, clouds));
	g_assert_true(mentions(error, secure));
	g_assert_true(mentions(error, "clouds.prod.auth.password: missing"));
}

static void test_secure_empty_merges_nothing(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	/* Made (chmod 600) before the secrets go in: not an error. */
	write_in(fx->cwd, "clouds.yaml", two_clouds);
	write_in(fx->cwd, "secure.yaml", "# secrets go here\n");
	g_assert_true(apply(fx, "lab", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.password, ==, "lab-pw");
}

/* ---- which cloud ------------------------------------------------------ */

static void test_select_os_cloud(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml", two_clouds);
	setenv_fake(fx, "OS_CLOUD", "lab");
	g_assert_true(apply(fx, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://lab.example:5000/v3");
	g_assert_cmpstr(fx->conf.os.project_id, ==, "p-lab");
}

static void test_select_name_beats_os_cloud(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml", two_clouds);
	write_in(fx->cwd, "secure.yaml", prod_secret);
	setenv_fake(fx, "OS_CLOUD", "lab");
	g_assert_true(apply(fx, "prod", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://prod.example:5000/v3");
}

static void test_select_only_cloud_by_default(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_cloud(fx->cwd, "clouds.yaml", "solo", "https://solo.example/v3");
	g_assert_true(apply(fx, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://solo.example/v3");
	g_assert_cmpstr(fx->conf.os.password, ==, PASSWORD);
}

static void test_select_only_cloud_not_with_os_auth_url(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	/* Broken on purpose: with OS_AUTH_URL set and no cloud named, no file
	 * is even read. */
	write_in(fx->cwd, "clouds.yaml", "clouds: [\n");
	setenv_fake(fx, "OS_AUTH_URL", "https://env.example/v3");
	setenv_fake(fx, "OS_PASSWORD", "env-pw");
	g_assert_true(apply(fx, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://env.example/v3");
	g_assert_cmpstr(fx->conf.os.password, ==, "env-pw");
}

static void test_select_several_clouds_none_chosen(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml", two_clouds);
	g_assert_false(apply(fx, NULL, &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "prod, lab"));
	g_assert_true(mentions(error, "--os-cloud"));
	g_assert_null(fx->conf.os.auth_url);
}

static void test_select_nothing_found_keeps_env(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	if (system_dir_has_clouds()) {
		g_test_skip("/etc/openstack has a clouds or secure file");
		return;
	}
	setenv_fake(fx, "OS_USERNAME", "env-user");
	g_assert_true(apply(fx, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.username, ==, "env-user");
	g_assert_null(fx->conf.os.auth_url);
}

static void test_select_name_without_file_fails(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	if (system_dir_has_clouds()) {
		g_test_skip("/etc/openstack has a clouds or secure file");
		return;
	}
	setenv_fake(fx, "OS_CLOUD", "prod");
	g_assert_false(apply(fx, NULL, &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "OS_CLOUD=prod"));
	g_assert_true(mentions(error, "no clouds.yaml found"));
	g_assert_true(mentions(error, fx->cwd));
}

/* ---- keys ------------------------------------------------------------- */

static void test_keys_application_credential(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml",
		 "clouds:\n"
		 "  ac:\n"
		 "    auth_type: v3applicationcredential\n"
		 "    auth:\n"
		 "      auth_url: https://ac.example/v3\n"
		 "      application_credential_id: ac-id\n"
		 "      application_credential_secret: ac-secret\n");
	g_assert_true(apply(fx, "ac", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_type, ==, "v3applicationcredential");
	g_assert_cmpstr(fx->conf.os.application_credential_id, ==, "ac-id");
	g_assert_cmpstr(fx->conf.os.application_credential_secret, ==, "ac-secret");
	g_assert_null(fx->conf.os.username);
	/* config_validate, run next in main.c, agrees. */
	g_assert_true(config_validate(&fx->conf, &error));
	g_assert_no_error(error);
}

static void test_keys_region_interface_verify(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml",
		 "clouds:\n"
		 "  c:\n"
		 "    region_name: RegionTwo\n"
		 "    interface: internalURL\n"
		 "    verify: false\n"
		 "    cacert: certs/ca.pem\n"
		 "    identity_api_version: 3\n"
		 "    auth:\n"
		 "      auth_url: https://c.example/v3\n"
		 "      user_id: u-1\n"
		 "      password: pw\n"
		 "      project_id: 1234\n");
	g_assert_true(apply(fx, "c", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.region_name, ==, "RegionTwo");
	g_assert_cmpstr(fx->conf.os.interface, ==, "internal");
	g_assert_true(fx->conf.os.insecure);
	g_assert_cmpstr(fx->conf.os.user_id, ==, "u-1");
	/* A number is read as its text. */
	g_assert_cmpstr(fx->conf.os.project_id, ==, "1234");
	/* Relative to the current directory, made absolute. */
	g_autofree char *cacert = g_build_filename(fx->cwd, "certs", "ca.pem", NULL);

	g_assert_cmpstr(fx->conf.os.cacert, ==, cacert);
}

static void test_keys_verify_and_insecure_words(struct fixture *fx, gconstpointer data)
{
	const struct {
		const char *line;
		gboolean insecure;
	} cases[] = {
		{ "verify: true", FALSE }, { "verify: False", TRUE }, { "verify: no", TRUE },
		{ "insecure: true", TRUE }, { "insecure: off", FALSE }, { "verify: ~", FALSE },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *text = g_strdup_printf(
			"clouds:\n  c:\n    %s\n    auth: {auth_url: u, user_id: x, password: y, "
			"project_id: z}\n",
			cases[i].line);

		write_in(fx->cwd, "clouds.yaml", text);
		g_test_message("%s", cases[i].line);
		g_assert_true(apply(fx, "c", &error));
		g_assert_no_error(error);
		g_assert_cmpint(fx->conf.os.insecure, ==, cases[i].insecure);
	}
}

static void test_keys_domain_name_fills_in(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml",
		 "clouds:\n"
		 "  c:\n"
		 "    auth:\n"
		 "      auth_url: https://c.example/v3\n"
		 "      username: u\n"
		 "      password: p\n"
		 "      tenant_name: old-style\n"
		 "      project_domain_id: pd\n"
		 "      domain_name: Shared\n");
	g_assert_true(apply(fx, "c", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.user_domain_name, ==, "Shared");
	/* Only where neither the name nor the id was given. */
	g_assert_null(fx->conf.os.project_domain_name);
	g_assert_cmpstr(fx->conf.os.project_domain_id, ==, "pd");
	g_assert_cmpstr(fx->conf.os.project_name, ==, "old-style");
}

static void test_keys_anchors_and_merge_keys(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml",
		 "base: &base\n"
		 "  auth_url: https://shared.example/v3\n"
		 "  username: shared\n"
		 "  password: shared-pw\n"
		 "  project_name: admin\n"
		 "clouds:\n"
		 "  a:\n"
		 "    auth:\n"
		 "      <<: *base\n"
		 "      username: own\n");
	g_assert_true(apply(fx, "a", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://shared.example/v3");
	g_assert_cmpstr(fx->conf.os.username, ==, "own");
}

static void test_keys_null_password_is_missing(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml",
		 "clouds:\n  c:\n    auth: {auth_url: u, username: x, password: ~, "
		 "project_id: z}\n");
	g_assert_false(apply(fx, "c", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "clouds.c.auth.password: missing"));
}

/* ---- the environment -------------------------------------------------- */

static void test_env_region_and_cacert_on_top(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml", two_clouds);
	write_in(fx->cwd, "secure.yaml", prod_secret);
	setenv_fake(fx, "OS_REGION_NAME", "RegionEnv");
	setenv_fake(fx, "OS_CACERT", "/etc/ssl/env-ca.pem");
	g_assert_true(apply(fx, "prod", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.region_name, ==, "RegionEnv");
	g_assert_cmpstr(fx->conf.os.cacert, ==, "/etc/ssl/env-ca.pem");
}

static void test_env_credentials_do_not_override_cloud(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml", two_clouds);
	write_in(fx->cwd, "secure.yaml", prod_secret);
	setenv_fake(fx, "OS_AUTH_URL", "https://env.example/v3");
	setenv_fake(fx, "OS_USERNAME", "env-user");
	setenv_fake(fx, "OS_PASSWORD", "env-pw");
	setenv_fake(fx, "OS_PROJECT_ID", "env-project");
	setenv_fake(fx, "OS_INTERFACE", "admin");
	setenv_fake(fx, "OS_INSECURE", "true");
	setenv_fake(fx, "OS_CLOUD", "prod");
	g_assert_true(apply(fx, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(fx->conf.os.password, ==, SECURE_PASSWORD);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://prod.example:5000/v3");
	g_assert_cmpstr(fx->conf.os.username, ==, "svc");
	/* Not merged in either: the entry is the whole login. */
	g_assert_null(fx->conf.os.project_id);
	g_assert_null(fx->conf.os.interface);
	g_assert_false(fx->conf.os.insecure);
}

static void test_env_password_does_not_fill_a_missing_one(struct fixture *fx,
							 gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml", two_clouds);
	setenv_fake(fx, "OS_PASSWORD", "env-pw");
	g_assert_false(apply(fx, "prod", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "clouds.prod.auth.password: missing"));
	/* Bad input changes nothing: the environment's values stay. */
	g_assert_cmpstr(fx->conf.os.password, ==, "env-pw");
}

/* ---- errors ----------------------------------------------------------- */

static void test_error_bad_yaml_names_file_and_line(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = write_file(fx->cwd, "clouds.yaml",
					   "clouds:\n"
					   "  c:\n"
					   "    auth: {auth_url: u\n"
					   "    region_name: [\n");
	/* Where libyaml gave up: the flow mapping of line 3 is not closed. */
	g_autofree char *at = g_strdup_printf("%s:4:16:", path);

	g_assert_false(apply(fx, "c", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_test_message("%s", error ? error->message : "no error");
	g_assert_true(mentions(error, at));
	g_assert_true(mentions(error, "not valid YAML"));
}

static void test_error_unknown_cloud_lists_names(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = write_file(fx->cwd, "clouds.yaml", two_clouds);

	g_assert_false(apply(fx, "staging", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_test_message("%s", error ? error->message : "no error");
	g_assert_true(mentions(error, "--os-cloud staging"));
	g_assert_true(mentions(error, path));
	g_assert_true(mentions(error, "prod, lab"));
}

static void test_error_auth_not_a_mapping(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = write_file(fx->cwd, "clouds.yaml",
					   "clouds:\n"
					   "  c:\n"
					   "    auth: https://c.example/v3\n");
	g_autofree char *at = g_strdup_printf("%s:3:11: clouds.c.auth: expected a mapping", path);

	g_assert_false(apply(fx, "c", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_test_message("%s", error ? error->message : "no error");
	g_assert_true(mentions(error, at));
}

static void test_error_string_key_given_a_list(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml",
		 "clouds:\n  c:\n    region_name: [A, B]\n    auth: {auth_url: u}\n");
	g_assert_false(apply(fx, "c", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "clouds.c.region_name: expected a string, found a list"));
}

static void test_error_top_level_not_a_mapping(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = write_file(fx->cwd, "clouds.yaml", "- a\n- b\n");

	g_assert_false(apply(fx, "c", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, path));
	g_assert_true(mentions(error, "expected a mapping with a clouds: key, found a list"));
}

static void test_error_empty_file(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = write_file(fx->cwd, "clouds.yaml", "# nothing yet\n");

	g_assert_false(apply(fx, "c", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, path));
	g_assert_true(mentions(error, "empty"));
}

static void test_error_second_document(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = write_file(fx->cwd, "clouds.yaml", "clouds: {}\n---\nmore: 1\n");
	g_autofree char *at = g_strdup_printf("%s:3:", path);

	g_assert_false(apply(fx, "c", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, at));
}

static void test_error_unsupported_auth_type(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml",
		 "clouds:\n  c:\n    auth_type: v3token\n    auth: {auth_url: u}\n");
	g_assert_false(apply(fx, "c", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, ":3:16: clouds.c.auth_type: \"v3token\" is not supported"));
}

static void test_error_verify_not_boolean(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml",
		 "clouds:\n  c:\n    verify: sometimes\n    auth: {auth_url: u}\n");
	g_assert_false(apply(fx, "c", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "clouds.c.verify: expected true or false"));
}

static void test_error_missing_application_secret(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = write_file(fx->cwd, "clouds.yaml",
					   "clouds:\n"
					   "  ac:\n"
					   "    auth_type: v3applicationcredential\n"
					   "    auth:\n"
					   "      auth_url: https://ac.example/v3\n"
					   "      application_credential_id: ac-id\n");

	g_assert_false(apply(fx, "ac", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, path));
	g_assert_true(mentions(error, "clouds.ac.auth.application_credential_secret: missing"));
}

static void test_error_client_config_file_missing(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml", two_clouds);
	setenv_fake(fx, "OS_CLIENT_CONFIG_FILE", "/nonexistent/clouds.yaml");
	g_assert_false(apply(fx, "lab", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "OS_CLIENT_CONFIG_FILE=/nonexistent/clouds.yaml"));
}

static void test_error_unreadable_file(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *path = g_build_filename(fx->cwd, "clouds.yaml", NULL);

	/* A directory in the way cannot be read, whoever runs the test. */
	g_assert_cmpint(g_mkdir(path, 0700), ==, 0);
	g_assert_false(apply(fx, "c", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, path));
}

static void test_error_alias_bomb_refused(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	/* 10^9 strings once expanded. */
	write_in(fx->cwd, "clouds.yaml",
		 "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		 "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		 "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		 "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		 "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		 "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		 "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
		 "clouds: {}\n");
	g_assert_false(apply(fx, "c", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_true(mentions(error, "too many values"));
}

static void test_error_leaves_config_unchanged(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(fx->cwd, "clouds.yaml",
		 "clouds:\n  c:\n    verify: sometimes\n"
		 "    auth: {auth_url: https://c.example/v3, username: c, password: c, "
		 "project_id: c}\n");
	setenv_fake(fx, "OS_AUTH_URL", "https://env.example/v3");
	setenv_fake(fx, "OS_USERNAME", "env-user");
	g_assert_false(apply(fx, "c", &error));
	g_assert_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG);
	g_assert_cmpstr(fx->conf.os.auth_url, ==, "https://env.example/v3");
	g_assert_cmpstr(fx->conf.os.username, ==, "env-user");
}

#define ADD(path, fn) g_test_add(path, struct fixture, NULL, fixture_set_up, fn, fixture_tear_down)

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	/* Report every failing test, not only the first one. */
	g_test_set_nonfatal_assertions();

	ADD("/clouds_yaml/search/client-config-file-wins", test_search_client_config_file_wins);
	ADD("/clouds_yaml/search/client-config-file-relative-to-cwd",
	    test_search_client_config_file_relative_to_cwd);
	ADD("/clouds_yaml/search/cwd-beats-user-dirs", test_search_cwd_beats_user_dirs);
	ADD("/clouds_yaml/search/xdg-config-home-beats-home",
	    test_search_xdg_config_home_beats_home);
	ADD("/clouds_yaml/search/home-then-site", test_search_home_then_site);
	ADD("/clouds_yaml/search/site-dir", test_search_site_dir);
	ADD("/clouds_yaml/search/yaml-before-yml-and-json", test_search_yaml_before_yml_and_json);
	ADD("/clouds_yaml/search/json-file", test_search_json_file);
	ADD("/clouds_yaml/search/first-file-wins-whole", test_search_first_file_wins_whole);
	ADD("/clouds_yaml/secure/password-deep-merged", test_secure_password_deep_merged);
	ADD("/clouds_yaml/secure/replaces-scalars", test_secure_replaces_scalars);
	ADD("/clouds_yaml/secure/missing-password-names-both-files",
	    test_secure_missing_password_names_both_files);
	ADD("/clouds_yaml/secure/empty-merges-nothing", test_secure_empty_merges_nothing);
	ADD("/clouds_yaml/select/os-cloud", test_select_os_cloud);
	ADD("/clouds_yaml/select/name-beats-os-cloud", test_select_name_beats_os_cloud);
	ADD("/clouds_yaml/select/only-cloud-by-default", test_select_only_cloud_by_default);
	ADD("/clouds_yaml/select/only-cloud-not-with-os-auth-url",
	    test_select_only_cloud_not_with_os_auth_url);
	ADD("/clouds_yaml/select/several-clouds-none-chosen",
	    test_select_several_clouds_none_chosen);
	ADD("/clouds_yaml/select/nothing-found-keeps-env", test_select_nothing_found_keeps_env);
	ADD("/clouds_yaml/select/name-without-file-fails", test_select_name_without_file_fails);
	ADD("/clouds_yaml/keys/application-credential", test_keys_application_credential);
	ADD("/clouds_yaml/keys/region-interface-verify", test_keys_region_interface_verify);
	ADD("/clouds_yaml/keys/verify-and-insecure-words", test_keys_verify_and_insecure_words);
	ADD("/clouds_yaml/keys/domain-name-fills-in", test_keys_domain_name_fills_in);
	ADD("/clouds_yaml/keys/anchors-and-merge-keys", test_keys_anchors_and_merge_keys);
	ADD("/clouds_yaml/keys/null-password-is-missing", test_keys_null_password_is_missing);
	ADD("/clouds_yaml/env/region-and-cacert-on-top", test_env_region_and_cacert_on_top);
	ADD("/clouds_yaml/env/credentials-do-not-override-cloud",
	    test_env_credentials_do_not_override_cloud);
	ADD("/clouds_yaml/env/password-does-not-fill-a-missing-one",
	    test_env_password_does_not_fill_a_missing_one);
	ADD("/clouds_yaml/error/bad-yaml-names-file-and-line",
	    test_error_bad_yaml_names_file_and_line);
	ADD("/clouds_yaml/error/unknown-cloud-lists-names", test_error_unknown_cloud_lists_names);
	ADD("/clouds_yaml/error/auth-not-a-mapping", test_error_auth_not_a_mapping);
	ADD("/clouds_yaml/error/string-key-given-a-list", test_error_string_key_given_a_list);
	ADD("/clouds_yaml/error/top-level-not-a-mapping", test_error_top_level_not_a_mapping);
	ADD("/clouds_yaml/error/empty-file", test_error_empty_file);
	ADD("/clouds_yaml/error/second-document", test_error_second_document);
	ADD("/clouds_yaml/error/unsupported-auth-type", test_error_unsupported_auth_type);
	ADD("/clouds_yaml/error/verify-not-boolean", test_error_verify_not_boolean);
	ADD("/clouds_yaml/error/missing-application-secret",
	    test_error_missing_application_secret);
	ADD("/clouds_yaml/error/client-config-file-missing",
	    test_error_client_config_file_missing);
	ADD("/clouds_yaml/error/unreadable-file", test_error_unreadable_file);
	ADD("/clouds_yaml/error/alias-bomb-refused", test_error_alias_bomb_refused);
	ADD("/clouds_yaml/error/leaves-config-unchanged", test_error_leaves_config_unchanged);

	return g_test_run();
}
