/* classes: the one table of data classes (what infrafs caches, under which
 * name, with which default TTL). Pure data; thread-safe. */
#pragma once

#include <glib.h>

enum data_class {
	CLASS_AGGREGATES, /* all host aggregates: one fetch */
	CLASS_HOSTS,      /* all hypervisors (detail, paged): one fetch */
	CLASS_FLAVORS,    /* all flavors with extra specs: one fetch */
	CLASS_PROJECTS,   /* the projects the credentials may list */
	CLASS_QUOTAS,     /* one project's compute quota set; key = project id */
	CLASS_SERVERS,    /* servers on one hypervisor; key = hypervisor_hostname */
	CLASS_PLACEMENT,  /* reserved: Placement inventories */
	CLASS_NETBOX,     /* one NetBox device (key: the service host) */
	CLASS_COUNT
};

/* "aggregates", "hosts", ... */
const char *classes_name(enum data_class data_class);

/* Default TTL of design.md, in seconds. */
guint classes_default_ttl_s(enum data_class data_class);

/* The class called `name`; FALSE when there is none. */
gboolean classes_from_name(const char *name, enum data_class *data_class);
