/* clouds_yaml: clouds.yaml and secure.yaml into config->os (see
 * infrafs/clouds_yaml.h). libyaml parses a file into a document; it is
 * copied into a small tree of our own (clouds_node), which the deep merge
 * and the lookups work on, and which remembers where each value was read
 * for the error messages. */
#include "infrafs/clouds_yaml.h"

#include <stdarg.h>
#include <string.h>
#include <yaml.h>

#include "infrafs/errors.h"
#include "infrafs/log.h"

/* Clouds files are small and flat. Aliases can make a small file expand
 * exponentially ("billion laughs"), so the copy is bounded too. */
#define CLOUDS_YAML_MAX_FILE_BYTES (4 * 1024 * 1024)
#define CLOUDS_YAML_MAX_DEPTH 64
#define CLOUDS_YAML_MAX_NODES 100000

#define CLOUDS_YAML_SYSTEM_DIR "/etc/openstack"
#define CLOUDS_YAML_DEFAULT_XDG_CONFIG_DIRS "/etc/xdg"

/* Tried in this order in each directory. */
static const char *const clouds_names[] = { "clouds.yaml", "clouds.yml", "clouds.json", NULL };
static const char *const secure_names[] = { "secure.yaml", "secure.yml", "secure.json", NULL };

/* ---- the tree -------------------------------------------------------- */

enum node_kind { NODE_SCALAR, NODE_MAPPING, NODE_SEQUENCE };

/* One YAML value as read, and where it was read. */
struct clouds_node {
	enum node_kind kind;
	char *scalar;      /* NODE_SCALAR: the text, owned; wiped when freed */
	gboolean plain;    /* NODE_SCALAR: unquoted, so that "~" and "null" mean null */
	GPtrArray *keys;   /* NODE_MAPPING: char *, owned; keys[i] names items[i] */
	GPtrArray *items;  /* mapping values or sequence items: struct clouds_node *, owned */
	const char *file;  /* borrowed from struct sources, which outlives the tree */
	size_t line;       /* 1-based */
	size_t column;     /* 1-based */
};

typedef struct clouds_node clouds_node;

static void node_free(struct clouds_node *node)
{
	if (node == NULL)
		return;
	/* Any scalar may be a password or a secret. */
	g_clear_pointer(&node->scalar, secret_string_free);
	g_clear_pointer(&node->keys, g_ptr_array_unref);
	g_clear_pointer(&node->items, g_ptr_array_unref);
	g_free(node);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(clouds_node, node_free)

static struct clouds_node *node_new(enum node_kind kind, const char *file, const yaml_mark_t *mark)
{
	struct clouds_node *node = g_new0(struct clouds_node, 1);

	node->kind = kind;
	node->file = file;
	node->line = mark->line + 1;
	node->column = mark->column + 1;
	if (kind != NODE_SCALAR)
		node->items = g_ptr_array_new_with_free_func((GDestroyNotify)node_free);
	if (kind == NODE_MAPPING)
		node->keys = g_ptr_array_new_with_free_func(g_free);
	return node;
}

/* Plain ~, null and the empty plain scalar are YAML's null (PyYAML reads
 * them as None); an empty string counts as unset, as in the environment. */
static gboolean node_is_null(const struct clouds_node *node)
{
	if (node->kind != NODE_SCALAR)
		return FALSE;
	if (node->scalar[0] == '\0')
		return TRUE;
	return node->plain && (g_strcmp0(node->scalar, "~") == 0 ||
			       g_ascii_strcasecmp(node->scalar, "null") == 0);
}

static const char *node_kind_name(const struct clouds_node *node)
{
	if (node->kind == NODE_MAPPING)
		return "a mapping";
	if (node->kind == NODE_SEQUENCE)
		return "a list";
	return "a string";
}

static int mapping_index(const struct clouds_node *map, const char *key)
{
	for (guint i = 0; i < map->keys->len; i++)
		if (strcmp(map->keys->pdata[i], key) == 0)
			return (int)i;
	return -1;
}

/* Borrowed; NULL when `map` is NULL, not a mapping, or has no such key. */
static struct clouds_node *mapping_get(const struct clouds_node *map, const char *key)
{
	int i = map != NULL && map->kind == NODE_MAPPING ? mapping_index(map, key) : -1;

	return i < 0 ? NULL : map->items->pdata[i];
}

/* Takes `key` and `value`; a key given twice keeps the later value, as
 * PyYAML does. */
static void mapping_set(struct clouds_node *map, char *key, struct clouds_node *value)
{
	int i = mapping_index(map, key);

	if (i >= 0) {
		g_free(key);
		node_free(map->items->pdata[i]);
		map->items->pdata[i] = value;
		return;
	}
	g_ptr_array_add(map->keys, key);
	g_ptr_array_add(map->items, value);
}

/* Deep merge, taking both: mappings merge key by key, anything else in
 * `over` replaces what `base` has (openstacksdk's merge_clouds). */
static struct clouds_node *node_merge(struct clouds_node *base, struct clouds_node *over)
{
	if (base == NULL)
		return over;
	if (over == NULL)
		return base;
	if (base->kind != NODE_MAPPING || over->kind != NODE_MAPPING) {
		node_free(base);
		return over;
	}
	for (guint i = 0; i < over->keys->len; i++) {
		struct clouds_node *value = g_steal_pointer(&over->items->pdata[i]);
		int at = mapping_index(base, over->keys->pdata[i]);

		if (at >= 0)
			base->items->pdata[at] = node_merge(base->items->pdata[at], value);
		else
			mapping_set(base, g_strdup(over->keys->pdata[i]), value);
	}
	node_free(over);
	return base;
}

/* ---- errors ---------------------------------------------------------- */

/* INFRAFS_ERROR_CONFIG "FILE:LINE:COLUMN: message" ("FILE: message" when
 * line is 0). */
G_GNUC_PRINTF(5, 6)
static void set_error_at(GError **error, const char *file, size_t line, size_t column,
			 const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	g_autofree char *message = g_strdup_vprintf(format, ap);
	va_end(ap);
	if (line > 0)
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG, "%s:%zu:%zu: %s", file,
			    line, column, message);
	else
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG, "%s: %s", file, message);
}

G_GNUC_PRINTF(3, 4)
static void set_node_error(GError **error, const struct clouds_node *node, const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	g_autofree char *message = g_strdup_vprintf(format, ap);
	va_end(ap);
	set_error_at(error, node->file, node->line, node->column, "%s", message);
}

static void set_parser_error(GError **error, const char *file, const yaml_parser_t *parser)
{
	const char *problem = parser->problem != NULL ? parser->problem : "unknown problem";
	const yaml_mark_t *mark = &parser->problem_mark;

	if (parser->error == YAML_MEMORY_ERROR) {
		set_error_at(error, file, 0, 0, "out of memory while parsing it");
	} else if (parser->error == YAML_READER_ERROR) {
		/* Only the offset is known: bad UTF-8, a control character. */
		set_error_at(error, file, 0, 0, "not valid YAML: %s at byte %zu", problem,
			     parser->problem_offset);
	} else if (parser->context != NULL) {
		set_error_at(error, file, mark->line + 1, mark->column + 1,
			     "not valid YAML: %s (%s at line %zu, column %zu)", problem,
			     parser->context, parser->context_mark.line + 1,
			     parser->context_mark.column + 1);
	} else {
		set_error_at(error, file, mark->line + 1, mark->column + 1, "not valid YAML: %s",
			     problem);
	}
}

/* ---- YAML document -> tree ------------------------------------------- */

struct converter {
	yaml_document_t *document;
	const char *file;
	guint nodes;  /* copied so far, against alias bombs */
};

static struct clouds_node *convert(struct converter *conv, yaml_node_t *y, guint depth,
				   GError **error);

static struct clouds_node *convert_scalar(struct converter *conv, yaml_node_t *y, GError **error)
{
	const char *value = (const char *)y->data.scalar.value;
	gsize length = y->data.scalar.length;

	if (memchr(value, '\0', length) != NULL) {
		set_error_at(error, conv->file, y->start_mark.line + 1, y->start_mark.column + 1,
			     "a value holds a NUL character");
		return NULL;
	}
	struct clouds_node *node = node_new(NODE_SCALAR, conv->file, &y->start_mark);

	node->scalar = g_strndup(value, length);
	node->plain = y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return node;
}

static struct clouds_node *convert_sequence(struct converter *conv, yaml_node_t *y, guint depth,
					    GError **error)
{
	g_autoptr(clouds_node) node = node_new(NODE_SEQUENCE, conv->file, &y->start_mark);

	for (yaml_node_item_t *item = y->data.sequence.items.start;
	     item < y->data.sequence.items.top; item++) {
		yaml_node_t *child = yaml_document_get_node(conv->document, *item);
		struct clouds_node *copy = convert(conv, child, depth + 1, error);

		if (copy == NULL)
			return NULL;
		g_ptr_array_add(node->items, copy);
	}
	return g_steal_pointer(&node);
}

/* "<<: *defaults" or "<<: [*a, *b]": the mappings to merge in, from
 * `value`, which this takes. */
static gboolean take_merges(struct clouds_node *value, GPtrArray *merges, GError **error)
{
	g_autoptr(clouds_node) owned = value;

	if (value->kind == NODE_MAPPING) {
		g_ptr_array_add(merges, g_steal_pointer(&owned));
		return TRUE;
	}
	if (value->kind != NODE_SEQUENCE) {
		set_node_error(error, value, "<<: expected a mapping or a list of mappings");
		return FALSE;
	}
	for (guint i = 0; i < value->items->len; i++) {
		const struct clouds_node *item = value->items->pdata[i];

		if (item->kind != NODE_MAPPING) {
			set_node_error(error, item, "<<: expected a mapping, found %s",
				       node_kind_name(item));
			return FALSE;
		}
	}
	for (guint i = 0; i < value->items->len; i++)
		g_ptr_array_add(merges, g_steal_pointer(&value->items->pdata[i]));
	return TRUE;
}

static struct clouds_node *convert_mapping(struct converter *conv, yaml_node_t *y, guint depth,
					   GError **error)
{
	g_autoptr(clouds_node) node = node_new(NODE_MAPPING, conv->file, &y->start_mark);
	g_autoptr(GPtrArray) merges = g_ptr_array_new_with_free_func((GDestroyNotify)node_free);

	for (yaml_node_pair_t *pair = y->data.mapping.pairs.start;
	     pair < y->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(conv->document, pair->key);
		yaml_node_t *value = yaml_document_get_node(conv->document, pair->value);

		if (key->type != YAML_SCALAR_NODE) {
			set_error_at(error, conv->file, key->start_mark.line + 1,
				     key->start_mark.column + 1, "a key must be a string");
			return NULL;
		}
		struct clouds_node *copy = convert(conv, value, depth + 1, error);

		if (copy == NULL)
			return NULL;
		const char *name = (const char *)key->data.scalar.value;

		if (key->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(name, "<<") == 0) {
			if (!take_merges(copy, merges, error))
				return NULL;
			continue;
		}
		mapping_set(node, g_strndup(name, key->data.scalar.length), copy);
	}
	/* Keys set in the mapping itself win; among merged ones, the first. */
	for (guint m = 0; m < merges->len; m++) {
		struct clouds_node *merged = merges->pdata[m];

		for (guint i = 0; i < merged->keys->len; i++)
			if (mapping_index(node, merged->keys->pdata[i]) < 0)
				mapping_set(node, g_strdup(merged->keys->pdata[i]),
					    g_steal_pointer(&merged->items->pdata[i]));
	}
	return g_steal_pointer(&node);
}

static struct clouds_node *convert(struct converter *conv, yaml_node_t *y, guint depth,
				   GError **error)
{
	if (depth > CLOUDS_YAML_MAX_DEPTH || ++conv->nodes > CLOUDS_YAML_MAX_NODES) {
		set_error_at(error, conv->file, y->start_mark.line + 1, y->start_mark.column + 1,
			     "nested too deeply, or too many values once aliases are expanded");
		return NULL;
	}
	if (y->type == YAML_MAPPING_NODE)
		return convert_mapping(conv, y, depth, error);
	if (y->type == YAML_SEQUENCE_NODE)
		return convert_sequence(conv, y, depth, error);
	g_return_val_if_fail(y->type == YAML_SCALAR_NODE, NULL);
	return convert_scalar(conv, y, error);
}

/* libyaml frees its copies of the text without wiping them. The scalars of
 * a document are reachable through the API; the working buffers are
 * members the header calls internal, unchanged since 0.1 and fixed by the
 * library's ABI. */
static void wipe_document(yaml_document_t *document)
{
	yaml_node_t *y;

	for (int i = 1; (y = yaml_document_get_node(document, i)) != NULL; i++)
		if (y->type == YAML_SCALAR_NODE)
			memset(y->data.scalar.value, 0, y->data.scalar.length);
}

static void wipe_parser(yaml_parser_t *parser)
{
	if (parser->buffer.start != NULL)
		memset(parser->buffer.start, 0,
		       (size_t)(parser->buffer.end - parser->buffer.start));
	if (parser->raw_buffer.start != NULL)
		memset(parser->raw_buffer.start, 0,
		       (size_t)(parser->raw_buffer.end - parser->raw_buffer.start));
}

/* The one document of the stream, copied into *out (NULL when the stream
 * is empty); anything after it is an error. */
static gboolean load_document(yaml_parser_t *parser, const char *file, struct clouds_node **out,
			      GError **error)
{
	yaml_document_t document;
	g_autoptr(clouds_node) root = NULL;

	*out = NULL;
	if (!yaml_parser_load(parser, &document)) {
		set_parser_error(error, file, parser);
		return FALSE;
	}
	yaml_node_t *y = yaml_document_get_root_node(&document);
	struct converter conv = { .document = &document, .file = file };

	if (y != NULL)
		root = convert(&conv, y, 0, error);
	wipe_document(&document);
	yaml_document_delete(&document);
	if (y == NULL)
		return TRUE;
	if (root == NULL)
		return FALSE;

	if (!yaml_parser_load(parser, &document)) {
		set_parser_error(error, file, parser);
		return FALSE;
	}
	y = yaml_document_get_root_node(&document);
	if (y != NULL)
		set_error_at(error, file, y->start_mark.line + 1, y->start_mark.column + 1,
			     "a second YAML document; a clouds file holds one");
	wipe_document(&document);
	yaml_document_delete(&document);
	if (y != NULL)
		return FALSE;
	*out = g_steal_pointer(&root);
	return TRUE;
}

/* Parse `file`, which must hold a mapping, or nothing when `may_be_empty`
 * (then *out is NULL). The tree borrows `file`. */
static gboolean load_file(const char *file, gboolean may_be_empty, struct clouds_node **out,
			  GError **error)
{
	g_autoptr(secret_string) text = NULL;
	g_autoptr(GError) local = NULL;
	gsize length = 0;

	*out = NULL;
	if (!g_file_get_contents(file, &text, &length, &local)) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG, "cannot read %s: %s", file,
			    local->message);
		return FALSE;
	}
	if (length > CLOUDS_YAML_MAX_FILE_BYTES) {
		set_error_at(error, file, 0, 0, "larger than %d bytes; not a clouds file?",
			     CLOUDS_YAML_MAX_FILE_BYTES);
		return FALSE;
	}

	yaml_parser_t parser;
	g_autoptr(clouds_node) root = NULL;

	if (!yaml_parser_initialize(&parser)) {
		set_error_at(error, file, 0, 0, "out of memory while parsing it");
		return FALSE;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
	gboolean parsed = load_document(&parser, file, &root, error);

	wipe_parser(&parser);
	yaml_parser_delete(&parser);
	if (!parsed)
		return FALSE;
	if (root == NULL && !may_be_empty) {
		set_error_at(error, file, 0, 0, "empty (expected a mapping with a clouds: key)");
		return FALSE;
	}
	if (root != NULL && root->kind != NODE_MAPPING) {
		set_node_error(error, root, "expected a mapping with a clouds: key, found %s",
			       node_kind_name(root));
		return FALSE;
	}
	*out = g_steal_pointer(&root);
	return TRUE;
}

/* ---- finding the files ---------------------------------------------- */

static const char *nonempty(const char *value)
{
	return value != NULL && value[0] != '\0' ? value : NULL;
}

/* "a, b, c" */
static char *join(const GPtrArray *strings)
{
	GString *joined = g_string_new(NULL);

	for (guint i = 0; i < strings->len; i++)
		g_string_append_printf(joined, "%s%s", i > 0 ? ", " : "",
				       (const char *)strings->pdata[i]);
	return g_string_free(joined, FALSE);
}

static void add_dir(GPtrArray *dirs, char *dir)
{
	for (guint i = 0; i < dirs->len; i++) {
		if (strcmp(dirs->pdata[i], dir) == 0) {
			g_free(dir);
			return;
		}
	}
	g_ptr_array_add(dirs, dir);
}

/* The directories to search, in order (see infrafs/clouds_yaml.h). */
static GPtrArray *search_dirs(const char *cwd, const char *(*getenv_fn)(const char *))
{
	GPtrArray *dirs = g_ptr_array_new_with_free_func(g_free);
	const char *home = nonempty(getenv_fn("HOME"));
	const char *xdg_home = nonempty(getenv_fn("XDG_CONFIG_HOME"));
	const char *xdg_dirs = nonempty(getenv_fn("XDG_CONFIG_DIRS"));
	g_auto(GStrv) site = g_strsplit(xdg_dirs ? xdg_dirs : CLOUDS_YAML_DEFAULT_XDG_CONFIG_DIRS,
					":", 2);

	add_dir(dirs, g_strdup(cwd));
	/* The XDG base directory spec ignores relative paths. */
	if (xdg_home != NULL && g_path_is_absolute(xdg_home))
		add_dir(dirs, g_build_filename(xdg_home, "openstack", NULL));
	if (home != NULL)
		add_dir(dirs, g_build_filename(home, ".config", "openstack", NULL));
	if (site[0] != NULL && g_path_is_absolute(site[0]))
		add_dir(dirs, g_build_filename(site[0], "openstack", NULL));
	add_dir(dirs, g_strdup(CLOUDS_YAML_SYSTEM_DIR));
	return dirs;
}

/* The file $`variable` names (it must exist), else the first of `names`
 * found in `dirs`; *found stays NULL when there is none. */
static gboolean find_file(const char *variable, const char *const *names, GPtrArray *dirs,
			  const char *cwd, const char *(*getenv_fn)(const char *), char **found,
			  GError **error)
{
	const char *named = nonempty(getenv_fn(variable));

	if (named != NULL) {
		g_autofree char *path = g_path_is_absolute(named)
						? g_strdup(named)
						: g_build_filename(cwd, named, NULL);

		if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "%s=%s: no such file", variable, named);
			return FALSE;
		}
		*found = g_steal_pointer(&path);
		return TRUE;
	}
	for (guint d = 0; d < dirs->len; d++) {
		for (guint n = 0; names[n] != NULL; n++) {
			g_autofree char *path = g_build_filename(dirs->pdata[d], names[n], NULL);

			if (g_file_test(path, G_FILE_TEST_EXISTS)) {
				*found = g_steal_pointer(&path);
				return TRUE;
			}
		}
	}
	return TRUE;
}

/* The files read and what they hold. */
struct sources {
	char *clouds_file;         /* the clouds file read, or NULL */
	char *secure_file;         /* the secure file read, or NULL */
	char *searched;            /* the directories searched, for messages */
	struct clouds_node *root;  /* the clouds file with the secure file merged over
				    * it; its nodes borrow the two names above */
};

typedef struct sources sources;

static void sources_clear(struct sources *s)
{
	g_clear_pointer(&s->root, node_free);
	g_clear_pointer(&s->clouds_file, g_free);
	g_clear_pointer(&s->secure_file, g_free);
	g_clear_pointer(&s->searched, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(sources, sources_clear)

static gboolean sources_load(struct sources *s, const char *cwd,
			     const char *(*getenv_fn)(const char *), GError **error)
{
	g_autoptr(GPtrArray) dirs = search_dirs(cwd, getenv_fn);
	g_autoptr(clouds_node) clouds = NULL;
	g_autoptr(clouds_node) secure = NULL;

	s->searched = join(dirs);
	if (!find_file("OS_CLIENT_CONFIG_FILE", clouds_names, dirs, cwd, getenv_fn,
		       &s->clouds_file, error) ||
	    !find_file("OS_CLIENT_SECURE_FILE", secure_names, dirs, cwd, getenv_fn,
		       &s->secure_file, error))
		return FALSE;
	/* An empty secure.yaml, made before its secrets, merges nothing in. */
	if ((s->clouds_file != NULL && !load_file(s->clouds_file, FALSE, &clouds, error)) ||
	    (s->secure_file != NULL && !load_file(s->secure_file, TRUE, &secure, error)))
		return FALSE;
	s->root = node_merge(g_steal_pointer(&clouds), g_steal_pointer(&secure));
	return TRUE;
}

/* "FILE" or "FILE and SECURE", for messages and the log. */
static char *sources_names(const struct sources *s)
{
	if (s->clouds_file != NULL && s->secure_file != NULL)
		return g_strdup_printf("%s and %s", s->clouds_file, s->secure_file);
	return g_strdup(s->clouds_file != NULL ? s->clouds_file : s->secure_file);
}

/* The clouds: mapping; *clouds is NULL when there is none. */
static gboolean sources_clouds(const struct sources *s, const struct clouds_node **clouds,
			       GError **error)
{
	const struct clouds_node *node = mapping_get(s->root, "clouds");

	*clouds = NULL;
	if (node == NULL || node_is_null(node))
		return TRUE;
	if (node->kind != NODE_MAPPING) {
		set_node_error(error, node, "clouds: expected a mapping of cloud names, found %s",
			       node_kind_name(node));
		return FALSE;
	}
	*clouds = node;
	return TRUE;
}

static char *cloud_names(const struct clouds_node *clouds)
{
	if (clouds == NULL || clouds->keys->len == 0)
		return g_strdup("none");
	return join(clouds->keys);
}

/* ---- a cloud entry -> credentials ----------------------------------- */

/* The string keys read, and the credential each one fills. */
#define CREDENTIAL(field) G_STRUCT_OFFSET(struct os_credentials, field)
static const struct {
	const char *key;
	const char *old_key;  /* read when `key` is absent */
	gboolean in_auth;     /* under auth:, else in the cloud entry itself */
	gsize offset;         /* of the char * in struct os_credentials */
} string_keys[] = {
	{ "auth_url", NULL, TRUE, CREDENTIAL(auth_url) },
	{ "username", NULL, TRUE, CREDENTIAL(username) },
	{ "user_id", NULL, TRUE, CREDENTIAL(user_id) },
	{ "password", NULL, TRUE, CREDENTIAL(password) },
	{ "user_domain_name", NULL, TRUE, CREDENTIAL(user_domain_name) },
	{ "user_domain_id", NULL, TRUE, CREDENTIAL(user_domain_id) },
	{ "project_name", "tenant_name", TRUE, CREDENTIAL(project_name) },
	{ "project_id", "tenant_id", TRUE, CREDENTIAL(project_id) },
	{ "project_domain_name", NULL, TRUE, CREDENTIAL(project_domain_name) },
	{ "project_domain_id", NULL, TRUE, CREDENTIAL(project_domain_id) },
	{ "application_credential_id", NULL, TRUE, CREDENTIAL(application_credential_id) },
	{ "application_credential_secret", NULL, TRUE, CREDENTIAL(application_credential_secret) },
	{ "auth_type", NULL, FALSE, CREDENTIAL(auth_type) },
	{ "region_name", NULL, FALSE, CREDENTIAL(region_name) },
	{ "interface", "endpoint_type", FALSE, CREDENTIAL(interface) },
	{ "cacert", NULL, FALSE, CREDENTIAL(cacert) },
};
#undef CREDENTIAL

/* The auth types infrafs can use (os_auth.c); config_validate agrees. */
static const char *const auth_types[] = { "password", "v3password", "v3applicationcredential" };

/* The OS_* credential variables a cloud entry overrides, named in the log
 * when they are set. */
static const char *const ignored_variables[] = {
	"OS_AUTH_URL", "OS_AUTH_TYPE", "OS_USERNAME", "OS_USER_ID", "OS_PASSWORD",
	"OS_USER_DOMAIN_NAME", "OS_USER_DOMAIN_ID", "OS_PROJECT_NAME", "OS_PROJECT_ID",
	"OS_TENANT_NAME", "OS_TENANT_ID", "OS_PROJECT_DOMAIN_NAME", "OS_PROJECT_DOMAIN_ID",
	"OS_DOMAIN_NAME", "OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_SECRET",
	"OS_INTERFACE", "OS_ENDPOINT_TYPE", "OS_INSECURE",
};

/* The value of `key` (or `old_key`) in `map` as a string, or NULL when
 * absent or null. */
static gboolean get_string(const struct clouds_node *map, const char *key, const char *old_key,
			   const char *where, const struct clouds_node **value, GError **error)
{
	const struct clouds_node *node = mapping_get(map, key);

	if ((node == NULL || node_is_null(node)) && old_key != NULL) {
		node = mapping_get(map, old_key);
		key = old_key;
	}
	*value = NULL;
	if (node == NULL || node_is_null(node))
		return TRUE;
	if (node->kind != NODE_SCALAR) {
		set_node_error(error, node, "%s.%s: expected a string, found %s", where, key,
			       node_kind_name(node));
		return FALSE;
	}
	*value = node;
	return TRUE;
}

/* A YAML 1.1 boolean, as PyYAML reads one; *set is FALSE when absent. */
static gboolean get_bool(const struct clouds_node *map, const char *key, const char *where,
			 gboolean *set, gboolean *out, GError **error)
{
	static const char *const true_words[] = { "true", "yes", "on" };
	static const char *const false_words[] = { "false", "no", "off" };
	const struct clouds_node *node = NULL;

	*set = FALSE;
	if (!get_string(map, key, NULL, where, &node, error))
		return FALSE;
	if (node == NULL)
		return TRUE;
	for (guint i = 0; i < G_N_ELEMENTS(true_words); i++) {
		if (g_ascii_strcasecmp(node->scalar, true_words[i]) == 0)
			*out = *set = TRUE;
		else if (g_ascii_strcasecmp(node->scalar, false_words[i]) == 0)
			*out = FALSE, *set = TRUE;
	}
	if (!*set)
		set_node_error(error, node, "%s.%s: expected true or false, found \"%s\"", where,
			       key, node->scalar);
	return *set;
}

static char *absolute_path(const char *path, const char *cwd)
{
	return g_path_is_absolute(path) ? g_strdup(path) : g_build_filename(cwd, path, NULL);
}

/* The entry `clouds.<name>` into `os`, which starts empty. `where` is
 * "clouds.<name>". */
static gboolean fill_credentials(struct os_credentials *os, const struct clouds_node *entry,
				 const char *where, const char *cwd, GError **error)
{
	g_autofree char *auth_where = g_strdup_printf("%s.auth", where);
	const struct clouds_node *auth = mapping_get(entry, "auth");

	if (auth != NULL && node_is_null(auth))
		auth = NULL;
	if (auth != NULL && auth->kind != NODE_MAPPING) {
		set_node_error(error, auth, "%s: expected a mapping, found %s", auth_where,
			       node_kind_name(auth));
		return FALSE;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(string_keys); i++) {
		const struct clouds_node *map = string_keys[i].in_auth ? auth : entry;
		const struct clouds_node *value = NULL;
		char **field = G_STRUCT_MEMBER_P(os, string_keys[i].offset);

		if (map == NULL)
			continue;
		if (!get_string(map, string_keys[i].key, string_keys[i].old_key,
				string_keys[i].in_auth ? auth_where : where, &value, error))
			return FALSE;
		if (value != NULL)
			*field = g_strdup(value->scalar);
	}

	const struct clouds_node *auth_type = mapping_get(entry, "auth_type");
	gboolean supported = os->auth_type == NULL;

	for (gsize i = 0; i < G_N_ELEMENTS(auth_types); i++)
		supported = supported || strcmp(os->auth_type, auth_types[i]) == 0;
	if (!supported) {
		set_node_error(error, auth_type,
			       "%s.auth_type: \"%s\" is not supported (password, "
			       "v3applicationcredential)",
			       where, os->auth_type);
		return FALSE;
	}

	/* domain_name and domain_id fill in the user's and the project's domain
	 * where neither its name nor its id is set. */
	const struct clouds_node *domain_name = NULL;
	const struct clouds_node *domain_id = NULL;

	if (auth != NULL &&
	    (!get_string(auth, "domain_name", NULL, auth_where, &domain_name, error) ||
	     !get_string(auth, "domain_id", NULL, auth_where, &domain_id, error)))
		return FALSE;
	if (os->user_domain_name == NULL && os->user_domain_id == NULL) {
		os->user_domain_name = domain_name ? g_strdup(domain_name->scalar) : NULL;
		os->user_domain_id = domain_id ? g_strdup(domain_id->scalar) : NULL;
	}
	if (os->project_domain_name == NULL && os->project_domain_id == NULL) {
		os->project_domain_name = domain_name ? g_strdup(domain_name->scalar) : NULL;
		os->project_domain_id = domain_id ? g_strdup(domain_id->scalar) : NULL;
	}

	/* verify: false and insecure: true both turn TLS checks off. */
	gboolean verify_set, verify = TRUE, insecure_set, insecure = FALSE;

	if (!get_bool(entry, "verify", where, &verify_set, &verify, error) ||
	    !get_bool(entry, "insecure", where, &insecure_set, &insecure, error))
		return FALSE;
	os->insecure = (verify_set && !verify) || (insecure_set && insecure);
	if (os->cacert != NULL) {
		/* The daemon's working directory becomes / once it detaches. */
		char *cacert = absolute_path(os->cacert, cwd);

		g_free(os->cacert);
		os->cacert = cacert;
	}
	return TRUE;
}

/* Whether the entry holds a whole login; the error names the first missing
 * key, where it should be. */
static gboolean check_complete(const struct os_credentials *os, const struct clouds_node *entry,
			       const char *where, const struct sources *s, GError **error)
{
	const struct clouds_node *auth = mapping_get(entry, "auth");
	const struct clouds_node *at = auth != NULL && auth->kind == NODE_MAPPING ? auth : entry;
	const char *missing = NULL;
	const char *why = "password authentication needs it";

	if (os->auth_url == NULL) {
		missing = "auth_url";
		why = "the Keystone URL";
	} else if (g_strcmp0(os->auth_type, "v3applicationcredential") == 0) {
		why = "auth_type v3applicationcredential needs it";
		if (os->application_credential_id == NULL)
			missing = "application_credential_id";
		else if (os->application_credential_secret == NULL)
			missing = "application_credential_secret";
	} else if (os->username == NULL && os->user_id == NULL) {
		missing = "username (or user_id)";
	} else if (os->password == NULL) {
		missing = "password";
		if (os->application_credential_id != NULL)
			why = "password authentication needs it; for an application credential, "
			      "set auth_type: v3applicationcredential";
	} else if (os->project_name == NULL && os->project_id == NULL) {
		missing = "project_name (or project_id)";
	}
	if (missing == NULL)
		return TRUE;
	if (s->secure_file != NULL && g_strcmp0(at->file, s->secure_file) != 0)
		set_node_error(error, at, "%s.auth.%s: missing (%s); %s does not have it either",
			       where, missing, why, s->secure_file);
	else
		set_node_error(error, at, "%s.auth.%s: missing (%s)", where, missing, why);
	return FALSE;
}

/* OS_REGION_NAME and OS_CACERT apply on top of a cloud entry. */
static void apply_env_on_top(struct os_credentials *os, const char *cwd,
			     const char *(*getenv_fn)(const char *))
{
	const char *region = nonempty(getenv_fn("OS_REGION_NAME"));
	const char *cacert = nonempty(getenv_fn("OS_CACERT"));

	if (region != NULL) {
		g_free(os->region_name);
		os->region_name = g_strdup(region);
	}
	if (cacert != NULL) {
		g_free(os->cacert);
		os->cacert = absolute_path(cacert, cwd);
	}
	/* "publicURL" is the old spelling of "public". */
	if (os->interface != NULL && g_str_has_suffix(os->interface, "URL"))
		os->interface[strlen(os->interface) - 3] = '\0';
}

static void log_env_use(const char *(*getenv_fn)(const char *))
{
	g_autoptr(GString) names = g_string_new(NULL);
	const char *on_top[] = { "OS_REGION_NAME", "OS_CACERT" };

	for (gsize i = 0; i < G_N_ELEMENTS(on_top); i++)
		if (nonempty(getenv_fn(on_top[i])) != NULL)
			g_info("credentials: %s=%s applies on top of the cloud's entry", on_top[i],
			       getenv_fn(on_top[i]));

	for (gsize i = 0; i < G_N_ELEMENTS(ignored_variables); i++)
		if (nonempty(getenv_fn(ignored_variables[i])) != NULL)
			g_string_append_printf(names, "%s%s", names->len ? ", " : "",
					       ignored_variables[i]);
	if (names->len > 0)
		g_info("credentials: ignoring %s from the environment: the cloud's entry wins",
		       names->str);
}

/* Replace config->os with the entry `name` of `clouds`; config is unchanged
 * on failure. */
static gboolean use_cloud(struct config *config, const struct sources *s,
			  const struct clouds_node *clouds, const char *name, const char *chosen_by,
			  const char *cwd, const char *(*getenv_fn)(const char *), GError **error)
{
	g_autofree char *files = sources_names(s);
	const struct clouds_node *entry = mapping_get(clouds, name);
	g_autofree char *where = g_strdup_printf("clouds.%s", name);

	if (entry == NULL) {
		g_autofree char *names = cloud_names(clouds);

		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
			    "%s: no cloud \"%s\" in %s (clouds there: %s)", chosen_by, name, files,
			    names);
		return FALSE;
	}
	if (entry->kind != NODE_MAPPING) {
		set_node_error(error, entry, "%s: expected a mapping, found %s", where,
			       node_is_null(entry) ? "nothing" : node_kind_name(entry));
		return FALSE;
	}

	struct config fresh;

	config_init(&fresh);
	if (!fill_credentials(&fresh.os, entry, where, cwd, error)) {
		config_clear(&fresh);
		return FALSE;
	}
	apply_env_on_top(&fresh.os, cwd, getenv_fn);
	if (!check_complete(&fresh.os, entry, where, s, error)) {
		config_clear(&fresh);
		return FALSE;
	}
	/* Swap, so that config_clear wipes what the environment gave. */
	struct os_credentials replaced = config->os;

	config->os = fresh.os;
	fresh.os = replaced;
	config_clear(&fresh);
	g_info("credentials: cloud \"%s\" (%s) from %s", name, chosen_by, files);
	log_env_use(getenv_fn);
	return TRUE;
}

gboolean clouds_yaml_apply(struct config *config, const char *cloud_name, const char *cwd,
			   const char *(*getenv_fn)(const char *name), GError **error)
{
	g_autofree char *own_cwd = cwd == NULL ? g_get_current_dir() : NULL;
	const char *dir = cwd != NULL ? cwd : own_cwd;
	const char *name = nonempty(cloud_name);
	g_autofree char *chosen_by = NULL;
	g_auto(sources) s = { 0 };
	const struct clouds_node *clouds = NULL;

	g_return_val_if_fail(config != NULL && getenv_fn != NULL, FALSE);
	if (name != NULL) {
		chosen_by = g_strdup_printf("--os-cloud %s", name);
	} else if ((name = nonempty(getenv_fn("OS_CLOUD"))) != NULL) {
		chosen_by = g_strdup_printf("OS_CLOUD=%s", name);
	} else if (nonempty(getenv_fn("OS_AUTH_URL")) != NULL) {
		g_info("credentials: the OS_* variables (no --os-cloud or OS_CLOUD)");
		return TRUE;
	}

	if (!sources_load(&s, dir, getenv_fn, error) ||
	    (s.root != NULL && !sources_clouds(&s, &clouds, error)))
		return FALSE;
	if (s.root == NULL && name != NULL) {
		g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
			    "%s: no clouds.yaml found (searched %s; OS_CLIENT_CONFIG_FILE names "
			    "one elsewhere)",
			    chosen_by, s.searched);
		return FALSE;
	}
	if (name == NULL) {
		g_autofree char *files = s.root != NULL ? sources_names(&s) : NULL;

		if (clouds == NULL || clouds->keys->len == 0) {
			g_info("credentials: the OS_* variables (%s%s)",
			       files ? "no clouds in " : "no clouds.yaml found",
			       files ? files : "");
			return TRUE;
		}
		if (clouds->keys->len > 1) {
			g_autofree char *names = cloud_names(clouds);

			g_set_error(error, INFRAFS_ERROR, INFRAFS_ERROR_CONFIG,
				    "no cloud chosen, and %s holds several (%s): name one with "
				    "--os-cloud or OS_CLOUD, or set OS_AUTH_URL and the other "
				    "OS_* variables",
				    files, names);
			return FALSE;
		}
		name = clouds->keys->pdata[0];
		chosen_by = g_strdup("the only cloud there");
	}
	return use_cloud(config, &s, clouds, name, chosen_by, dir, getenv_fn, error);
}
