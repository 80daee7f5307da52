/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_LOG_H
#define SOTTO_LOG_H

/* One line per event on stderr: "<utc time> <level> <module>: <text>".
 * Never pass a secret, password, key or full REST username to these. */
enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern enum log_level log_threshold;

void log_msg(enum log_level lvl, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(mod, ...) log_msg(LOG_LVL_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_LVL_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_LVL_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...)                                                   \
	do {                                                                  \
		if (log_threshold >= LOG_LVL_DEBUG)                           \
			log_msg(LOG_LVL_DEBUG, mod, __VA_ARGS__);             \
	} while (0)

#endif
