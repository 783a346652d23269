/* main: options -> config, modules built bottom-up, mount, loop, and
 * teardown in reverse. Owns the lifetime of every module. */
#include <curl/curl.h>
#include <errno.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_config.h"
#include "infrafs/backend.h"
#include "infrafs/cache.h"
#include "infrafs/clouds_yaml.h"
#include "infrafs/config.h"
#include "infrafs/errors.h"
#include "infrafs/fs_notify.h"
#include "infrafs/fs_ops.h"
#include "infrafs/http.h"
#include "infrafs/inode.h"
#include "infrafs/inventory.h"
#include "infrafs/l2.h"
#include "infrafs/l2_format.h"
#include "infrafs/log.h"
#include "infrafs/os_auth.h"
#include "infrafs/tree.h"
#include "infrafs/warm.h"

/* Threads serving requests; reads block on fetches, so allow plenty. Put
 * first on the command line, so that the user's -o options override them. */
#define MAIN_THREAD_DEFAULTS "-omax_threads=64,max_idle_threads=8"
#define MAIN_ERROR_LOG_CAPACITY 100

static const char usage_text[] =
	"usage: infrafs [options] MOUNTPOINT\n"
	"\n"
	"Shows an OpenStack cloud's inventory (aggregates, hypervisors, flavors,\n"
	"quotas) as files. Credentials come from a cloud of clouds.yaml, chosen with\n"
	"--os-cloud or OS_CLOUD, or from the OS_* variables of an openrc (OS_AUTH_URL,\n"
	"OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, OS_USER_DOMAIN_NAME,\n"
	"OS_PROJECT_DOMAIN_NAME; or OS_AUTH_TYPE=v3applicationcredential with\n"
	"OS_APPLICATION_CREDENTIAL_ID/_SECRET). clouds.yaml and secure.yaml are\n"
	"searched like the openstack client does: OS_CLIENT_CONFIG_FILE, ./,\n"
	"~/.config/openstack, /etc/openstack. Data is fetched on first read and\n"
	"kept for a time to live per class; write paths or globs to\n"
	".infrafs/invalidate to drop them sooner. infrafs's own settings may also\n"
	"come from ~/.config/infrafs/infrafs.conf; -o options override it.\n"
	"\n"
	"infrafs options:\n"
	"    -h, --help             print this help and exit\n"
	"    -V, --version          print the version and exit\n"
	"    -f                     stay in the foreground, log to stderr\n"
	"    -d                     debug output (implies -f)\n"
	"    -s                     serve requests on one thread\n"
	"    --os-cloud NAME        use cloud NAME of clouds.yaml (default: $OS_CLOUD)\n"
	"    --config FILE          read settings from FILE instead of\n"
	"                           $XDG_CONFIG_HOME/infrafs/infrafs.conf\n"
	"    -o max_threads=N       most threads serving requests (default 64)\n"
	"    -o ttl.CLASS=SECONDS   time to live of a data class; classes and defaults:\n"
	"                           aggregates 3600, hosts 60, flavors 3600, projects 3600,\n"
	"                           quotas 1800, servers 10 (0 = fetch on every read)\n"
	"    -o grace.CLASS=SECONDS past the TTL, serve the old data at once while one\n"
	"                           background fetch refreshes it (default: the TTL,\n"
	"                           at most 3600; 0 = always wait for the fetch)\n"
	"    -o max_stale=SECONDS   when a fetch fails, serve data up to this old instead\n"
	"                           of failing with EIO (default 86400; 0 = never)\n"
	"    -o cache_max_bytes=N   memory for cached data, least recently used dropped\n"
	"                           first; K, M, G suffixes (default 256M)\n"
	"    -o warm=CLASS[,CLASS...]  fetch these classes in the background after\n"
	"                           mounting (aggregates, hosts, flavors, projects,\n"
	"                           quotas, servers, or all; default none)\n"
	"    -o warm_rate=N         the warmer's fetches per second (default 2)\n"
	"    -o timeout=SECONDS     longest one backend request may take, retries\n"
	"                           included (default 30)\n"
	"    -o connect_timeout=SECONDS  longest a connection may take (default 5)\n"
	"    -o retries=N           tries again after a 429, 5xx or connection failure,\n"
	"                           with backoff and jitter (default 3; 0 = none)\n"
	"    -o rate_limit=N        requests a second to each service, at most\n"
	"                           (default 50; 0 = unlimited)\n"
	"    -o netbox_url=URL      add hosts/<h>/netbox.json from this NetBox; its\n"
	"                           token comes from INFRAFS_NETBOX_TOKEN\n"
	"    -o redis=URL           share fetched data and invalidations with other\n"
	"                           mounts through Redis at redis://[user:password@]\n"
	"                           host[:port][/db]; a password may instead come from\n"
	"                           INFRAFS_REDIS_PASSWORD (default: no sharing)\n"
	"\n";

struct options {
	struct config *config;
	GError *error;      /* the first bad option */
	char *os_cloud;     /* --os-cloud NAME, owned; NULL when not given */
	gboolean help;
	gboolean version;
};

enum { KEY_HELP, KEY_VERSION, KEY_OS_CLOUD, KEY_CONFIG };

/* infrafs's one long option with a value: --os-cloud NAME or --os-cloud=NAME. */
#define MAIN_OS_CLOUD_FLAG "--os-cloud"
/* --config FILE: read before the -o options, which override it. */
#define MAIN_CONFIG_FLAG "--config"

static const struct fuse_opt option_spec[] = {
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	/* The trailing space lets the name be the next argument. */
	FUSE_OPT_KEY(MAIN_OS_CLOUD_FLAG " ", KEY_OS_CLOUD),
	FUSE_OPT_KEY(MAIN_CONFIG_FLAG " ", KEY_CONFIG),
	FUSE_OPT_KEY(MAIN_CONFIG_FLAG "=", KEY_CONFIG),
	FUSE_OPT_END,
};

/* The FILE of --config FILE or --config=FILE in argv, or NULL. A second
 * --config wins, as a second -o does. */
static const char *config_file_arg(int argc, char **argv)
{
	const char *path = NULL;

	for (int i = 1; i < argc; i++) {
		if (g_strcmp0(argv[i], MAIN_CONFIG_FLAG) == 0 && i + 1 < argc)
			path = argv[++i];
		else if (g_str_has_prefix(argv[i], MAIN_CONFIG_FLAG "="))
			path = argv[i] + strlen(MAIN_CONFIG_FLAG "=");
		else if (g_strcmp0(argv[i], "--") == 0)
			break;
	}
	return path;
}

/* Whether /proc/self/mounts has an infrafs mount at `path` (resolved). */
static gboolean infrafs_mounted_at(const char *path)
{
	g_autofree char *mounts = NULL;

	if (!g_file_get_contents("/proc/self/mounts", &mounts, NULL, NULL))
		return FALSE;
	g_auto(GStrv) lines = g_strsplit(mounts, "\n", -1);

	for (char **line = lines; *line != NULL; line++) {
		g_auto(GStrv) fields = g_strsplit(*line, " ", 4);

		if (g_strv_length(fields) < 3 || !g_str_has_prefix(fields[2], "fuse.infrafs"))
			continue;
		/* The kernel writes spaces and the like as octal escapes. */
		g_autofree char *where = g_strcompress(fields[1]);

		if (g_strcmp0(where, path) == 0)
			return TRUE;
	}
	return FALSE;
}

/* A mount point must be a directory, and not one infrafs already serves:
 * mounting on a file gives a tree nobody can use, and over another infrafs
 * hides it while its daemon runs on. */
static gboolean check_mount_point(const char *mountpoint, GError **error)
{
	struct stat st;
	g_autofree char *resolved = realpath(mountpoint, NULL);

	if (stat(mountpoint, &st) != 0) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG, "mount point %s: %s",
			    mountpoint, g_strerror(errno));
		return FALSE;
	}
	if (!S_ISDIR(st.st_mode)) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
			    "mount point %s: not a directory", mountpoint);
		return FALSE;
	}
	if (resolved != NULL && infrafs_mounted_at(resolved)) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
			    "mount point %s: infrafs is already mounted there "
			    "(unmount it first: fusermount3 -u %s)",
			    mountpoint, mountpoint);
		return FALSE;
	}
	return TRUE;
}

/* fuse_opt callback: take infrafs's own -o options, leave the rest to libfuse. */
static int take_option(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *options = data;

	if (key == KEY_HELP) {
		options->help = TRUE;
		return 0;
	}
	if (key == KEY_VERSION) {
		options->version = TRUE;
		return 0;
	}
	if (key == KEY_CONFIG)
		return 0; /* read by config_file_arg() before the options */
	if (key == KEY_OS_CLOUD) {
		/* fuse_opt hands "--os-cloud NAME" over as "--os-cloudNAME", and
		 * "--os-cloud=NAME" as it is. */
		const char *name = arg + strlen(MAIN_OS_CLOUD_FLAG);

		if (*name == '=')
			name++;
		if (*name == '\0' && options->error == NULL)
			options->error = g_error_new(INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
						     "option --os-cloud: needs a cloud name");
		g_free(options->os_cloud);
		options->os_cloud = g_strdup(name);
		return 0;
	}
	if (key != FUSE_OPT_KEY_OPT)
		return 1;

	g_autofree char *name = g_strdup(arg);
	char *equals = strchr(name, '=');
	const char *value = NULL;
	gboolean is_ours = FALSE;
	g_autoptr(GError) error = NULL;

	if (equals != NULL) {
		*equals = '\0';
		value = equals + 1;
	}
	if (config_set_option(options->config, name, value, &is_ours, &error))
		return 0;
	if (!is_ours)
		return 1;
	if (options->error == NULL)
		options->error = g_steal_pointer(&error);
	return 0;
}

static void log_from_fuse(enum fuse_log_level level, const char *format, va_list ap)
{
	g_autofree char *message = g_strdup_vprintf(format, ap);

	g_strchomp(message);
	if (level <= FUSE_LOG_ERR)
		g_message("libfuse: %s", message);
	else
		g_debug("libfuse: %s", message);
}

/* The modules of one mount, in the order they are built. */
struct daemon {
	struct config config;
	struct http_client *http;
	struct api *api;
	struct os_auth *auth;
	struct backend *backend;
	struct error_log *error_log;
	struct inventory inventory;
	struct cache *cache;
	struct inode_table *inodes;
	struct fs fs;
	struct tree *tree;
	struct warm *warm;
	struct fuse_session *session;
	struct fs_notify *notify;
	struct l2 *l2;              /* NULL without -o redis */
};

/* A fetch lock outlives the longest fetch (the API deadline) by this much. */
#define MAIN_L2_LOCK_MARGIN_MS 2000

/* A tree_expiry_fn: tell the fleet, through Redis, what this mount expires. */
static void share_expiry(const char *patterns, gsize len, const gboolean classes[CLASS_COUNT],
			 gpointer user_data)
{
	l2_invalidate(user_data, classes, patterns, len);
}

/* An l2_invalidation_fn: apply what another mount expired. */
static void apply_fleet_expiry(const char *patterns, gsize len, gpointer user_data)
{
	g_autoptr(GError) error = NULL;

	if (!tree_expire_remote(user_data, patterns, len, &error))
		g_message("ignored an invalidation from another mount: %s", error->message);
}

/* The shared cache of -o redis, if any. */
static void build_l2(struct daemon *d)
{
	if (d->config.redis.host == NULL)
		return;
	g_autofree char *scope = l2_format_scope(&d->config.os);
	struct redis_url url = d->config.redis;

	if (url.password == NULL)
		url.password = d->config.redis_password;
	d->l2 = l2_new(&url, scope, d->config.netbox_url, L2_DEFAULT_TIMEOUT_MS, d->error_log);
	d->inventory.l2 = d->l2;
	d->inventory.l2_lock_ms = d->config.request_timeout_ms + MAIN_L2_LOCK_MARGIN_MS;
	tree_set_l2(d->tree, d->l2);
	tree_set_expiry_hook(d->tree, share_expiry, d->l2);
	g_info("sharing fetched data through %s (scope %s)", l2_url_masked(d->l2), scope);
}

static gboolean daemon_build(struct daemon *d, GError **error)
{
	struct http_options http_options = {
		.connect_timeout_ms = d->config.connect_timeout_ms,
		.timeout_ms = d->config.request_timeout_ms,
		.cacert = d->config.os.cacert,
		.insecure = d->config.os.insecure,
	};

	/* A burst of a second's worth: a cold `ls -l` may ask for many pages
	 * at once, and a quiet API can take them. */
	struct api_options api_options = {
		.max_retries = d->config.max_retries,
		.rate_per_s = d->config.rate_limit_per_s,
		.burst = (guint)MAX(d->config.rate_limit_per_s, 1.0),
		.deadline_ms = d->config.request_timeout_ms,
	};

	d->http = http_client_new(&http_options);
	d->api = api_new(d->http, &api_options);
	d->auth = os_auth_new(d->api, &d->config.os);
	d->backend = backend_new(d->api, d->auth);
	backend_set_netbox(d->backend, d->config.netbox_url, d->config.netbox_token);
	d->error_log = error_log_new(MAIN_ERROR_LOG_CAPACITY);
	d->inventory.backend = d->backend;
	d->inventory.error_log = d->error_log;
	d->cache = cache_new(d->config.ttl_s, d->config.fetch_wait_ms, inventory_load,
			     inventory_free_value, &d->inventory);
	for (int c = 0; c < CLASS_COUNT; c++)
		cache_set_grace(d->cache, (enum data_class)c,
				config_grace_s(&d->config, (enum data_class)c));
	cache_set_max_stale(d->cache, d->config.max_stale_s);
	cache_set_max_bytes(d->cache, d->config.cache_max_bytes);
	d->inodes = inode_table_new();
	d->fs.inodes = d->inodes;
	fs_init_handles(&d->fs);
	d->fs.uid = getuid();
	d->fs.gid = getgid();
	d->tree = tree_new(d->cache, &d->config, d->error_log, fs_on_tree_changed, &d->fs);
	d->fs.tree = d->tree;
	tree_set_request_counts(d->tree, &d->fs.requests);
	tree_set_api(d->tree, d->api);
	cache_set_changed_hook(d->cache, inventory_models_differ, tree_on_data_changed, d->tree);
	build_l2(d);
	d->warm = warm_new(d->cache, d->config.warm, d->config.warm_rate_per_s);
	tree_set_warm(d->tree, d->warm);

	/* Bad credentials should fail the mount, not every later read. No
	 * inventory is fetched here; that waits for the first read. */
	g_autoptr(secret_string) token = os_auth_token(d->auth, error);

	return token != NULL;
}

static void daemon_destroy(struct daemon *d)
{
	g_clear_pointer(&d->notify, fs_notify_free);
	if (d->session != NULL)
		fuse_session_destroy(d->session);
	g_clear_pointer(&d->warm, warm_free);
	/* After the session: no request can reach a handle any more. */
	fs_free_handles(&d->fs);
	g_clear_pointer(&d->tree, tree_free);
	g_clear_pointer(&d->inodes, inode_table_free);
	g_clear_pointer(&d->cache, cache_free);
	/* After the cache: its refreshes may be fetching through Redis. */
	g_clear_pointer(&d->l2, l2_free);
	g_clear_pointer(&d->error_log, error_log_free);
	g_clear_pointer(&d->backend, backend_free);
	g_clear_pointer(&d->auth, os_auth_free);
	g_clear_pointer(&d->api, api_free);
	g_clear_pointer(&d->http, http_client_free);
	config_clear(&d->config);
}

static int serve(struct daemon *d, const struct fuse_cmdline_opts *cmdline)
{
	int status;

	if (cmdline->singlethread) {
		status = fuse_session_loop(d->session);
	} else {
		struct fuse_loop_config *loop = fuse_loop_cfg_create();

		fuse_loop_cfg_set_clone_fd(loop, cmdline->clone_fd);
		fuse_loop_cfg_set_max_threads(loop, cmdline->max_threads);
		fuse_loop_cfg_set_idle_threads(loop, cmdline->max_idle_threads);
		status = fuse_session_loop_mt(d->session, loop);
		fuse_loop_cfg_destroy(loop);
	}
	/* A positive status is the signal that ended the loop (SIGTERM, SIGINT,
	 * SIGHUP): a requested stop, which unmounts cleanly. */
	return status > 0 ? 0 : status;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmdline = { 0 };
	struct daemon d = { 0 };
	struct options options = { .config = &d.config };
	g_autoptr(GError) error = NULL;
	int status = 1;

	config_init(&d.config);
	/* The file first: -o options, read next, override it. */
	const char *config_path = config_file_arg(argc, argv);
	g_autofree char *default_config = config_path ? NULL : config_default_file();

	if (!config_load_file(&d.config, config_path ? config_path : default_config,
			      config_path != NULL, &options.error) &&
	    config_path != NULL && *config_path == '\0')
		g_prefix_error(&options.error, "option --config: ");
	/* fuse_opt_parse leaves `args` allocated, which inserting needs. */
	if (fuse_opt_parse(&args, &options, option_spec, take_option) != 0 ||
	    fuse_opt_insert_arg(&args, 1, MAIN_THREAD_DEFAULTS) != 0 ||
	    fuse_parse_cmdline(&args, &cmdline) != 0)
		goto out_args;
	if (options.help || cmdline.show_help) {
		fputs(usage_text, stdout);
		printf("FUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		status = 0;
		goto out_args;
	}
	if (options.version || cmdline.show_version) {
		printf("infrafs %s\n", INFRAFS_VERSION);
		fflush(stdout); /* fusermount3 prints its own line after ours */
		fuse_lowlevel_version();
		status = 0;
		goto out_args;
	}
	if (options.error != NULL) {
		fprintf(stderr, "infrafs: %s\n", options.error->message);
		goto out_args;
	}
	if (cmdline.mountpoint == NULL) {
		fprintf(stderr, "infrafs: no mount point given (see infrafs --help)\n");
		goto out_args;
	}
	if (!check_mount_point(cmdline.mountpoint, &error)) {
		fprintf(stderr, "infrafs: %s\n", error->message);
		goto out_args;
	}
	/* Before reading the configuration, whose source is logged. */
	d.config.debug = cmdline.debug;
	log_init(cmdline.debug);
	if (d.config.config_file != NULL)
		g_info("settings: %s, then the -o options", d.config.config_file);
	config_load_env(&d.config, g_getenv);
	if (!clouds_yaml_apply(&d.config, options.os_cloud, NULL, g_getenv, &error) ||
	    !config_validate(&d.config, &error)) {
		fprintf(stderr, "infrafs: %s\n", error->message);
		goto out_args;
	}
	fuse_set_log_func(log_from_fuse);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "infrafs: libcurl failed to initialise\n");
		goto out_args;
	}
	/* The mounting user reads it; others only with -o allow_other. No
	 * access times: they mean nothing here, and updating one would cost a
	 * getattr after a file's first read. The session comes first so that
	 * libfuse rejects unknown options before any network call. */
	fuse_opt_add_arg(&args, "-ofsname=infrafs,subtype=infrafs,default_permissions,noatime");
	d.session = fuse_session_new(&args, fs_ops_table(), sizeof(struct fuse_lowlevel_ops), &d.fs);
	if (d.session == NULL)
		goto out_daemon;
	if (!daemon_build(&d, &error)) {
		fprintf(stderr, "infrafs: %s\n", error->message);
		goto out_daemon;
	}
	if (fuse_set_signal_handlers(d.session) != 0)
		goto out_daemon;
	if (fuse_session_mount(d.session, cmdline.mountpoint) != 0) {
		fprintf(stderr, "infrafs: cannot mount on %s\n", cmdline.mountpoint);
		goto out_signals;
	}
	fuse_daemonize(cmdline.foreground);
	if (!cmdline.foreground)
		log_use_syslog();
	d.notify = fs_notify_new(d.session);
	d.fs.notify = d.notify;
	/* Threads start after fuse_daemonize(), which forks. */
	if (d.l2 != NULL)
		l2_listen(d.l2, apply_fleet_expiry, d.tree);
	g_message("mounted on %s", cmdline.mountpoint);
	for (int c = 0; c < CLASS_COUNT; c++) {
		if (d.config.warm[c]) {
			warm_start(d.warm);
			break;
		}
	}

	status = serve(&d, &cmdline) == 0 ? 0 : 1;

	/* The listener expires entries and tells the kernel: stop it first. */
	if (d.l2 != NULL)
		l2_stop(d.l2);
	d.fs.notify = NULL;
	g_clear_pointer(&d.notify, fs_notify_free);
	fuse_session_unmount(d.session);
	g_message("unmounted %s", cmdline.mountpoint);
out_signals:
	fuse_remove_signal_handlers(d.session);
out_daemon:
	daemon_destroy(&d);
	curl_global_cleanup();
out_args:
	g_clear_error(&options.error);
	g_free(options.os_cloud);
	free(cmdline.mountpoint);
	fuse_opt_free_args(&args);
	return status;
}
