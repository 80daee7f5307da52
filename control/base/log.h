/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_LOG_H
#define SOTTO_LOG_H

/*
 * One line per event on stderr, logfmt by default:
 *   time=2026-11-27T09:08:41.968Z level=info component=turn msg="allocation created" relayed=127.0.0.1:49152
 * or one JSON object per line (log_format: json). A message is text
 * followed by key=value fields; the first word shaped like key=value starts
 * the fields (values with spaces go in double quotes).
 *
 * Never pass a secret, password, token, key, full REST username or full
 * room id to these, and client addresses only at debug level: who talks
 * to whom is what an anonymous service must not write down by default.
 */
enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
enum log_format { LOG_FMT_TEXT, LOG_FMT_JSON };

extern enum log_level log_threshold;
extern enum log_format log_format;

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
