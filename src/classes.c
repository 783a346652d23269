/* classes: the data-class table (see infrafs/classes.h). */
#include "infrafs/classes.h"

static const struct {
	const char *name;
	guint default_ttl_s;
} class_table[CLASS_COUNT] = {
	[CLASS_AGGREGATES] = { "aggregates", 3600 },
	[CLASS_HOSTS] = { "hosts", 60 },
	[CLASS_FLAVORS] = { "flavors", 3600 },
	[CLASS_PROJECTS] = { "projects", 3600 },
	[CLASS_QUOTAS] = { "quotas", 1800 },
	[CLASS_SERVERS] = { "servers", 10 },
	[CLASS_PLACEMENT] = { "placement", 60 },
	[CLASS_NETBOX] = { "netbox", 1800 },
};

const char *classes_name(enum data_class data_class)
{
	g_return_val_if_fail(data_class < CLASS_COUNT, "?");
	return class_table[data_class].name;
}

guint classes_default_ttl_s(enum data_class data_class)
{
	g_return_val_if_fail(data_class < CLASS_COUNT, 0);
	return class_table[data_class].default_ttl_s;
}

gboolean classes_from_name(const char *name, enum data_class *data_class)
{
	for (int i = 0; i < CLASS_COUNT; i++) {
		if (g_strcmp0(class_table[i].name, name) == 0) {
			*data_class = (enum data_class)i;
			return TRUE;
		}
	}
	return FALSE;
}
