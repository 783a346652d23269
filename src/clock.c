/* clock: real or manual time sources (see infrafs/clock.h). */
#include "infrafs/clock.h"

static gint64 *manual_mono_us;
static gint64 *manual_wall_us;

gint64 clock_mono_us(void)
{
	gint64 *manual = g_atomic_pointer_get(&manual_mono_us);

	return manual ? *manual : g_get_monotonic_time();
}

gint64 clock_wall_us(void)
{
	gint64 *manual = g_atomic_pointer_get(&manual_wall_us);

	return manual ? *manual : g_get_real_time();
}

void clock_use_manual(gint64 *mono_us, gint64 *wall_us)
{
	g_atomic_pointer_set(&manual_mono_us, mono_us);
	g_atomic_pointer_set(&manual_wall_us, wall_us);
}
