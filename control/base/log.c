/* SPDX-License-Identifier: BSD-3-Clause */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum log_level log_threshold = LOG_LVL_INFO;
enum log_format log_format = LOG_FMT_TEXT;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/*
 * Where the fields start: the first word that looks like key=value (a
 * lowercase identifier and '='). Everything before it is the message.
 */
static const char *
fields_start(const char *s)
{
	for (const char *p = s; *p; p++) {
		const char *k = p;

		if (p != s && p[-1] != ' ')
			continue;
		while ((*k >= 'a' && *k <= 'z') || *k == '_' ||
		       (*k >= '0' && *k <= '9'))
			k++;
		if (k > p && *k == '=')
			return p;
	}
	return s + strlen(s);
}

/* Appends s[0..len) JSON- or logfmt-quoted (both escape " and \). */
static size_t
quote(char *out, size_t cap, size_t o, const char *s, size_t len)
{
	if (o + 1 < cap)
		out[o++] = '"';
	for (size_t i = 0; i < len && o + 7 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (ch < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	if (o + 1 < cap)
		out[o++] = '"';
	out[o < cap ? o : cap - 1] = '\0';
	return o;
}

/* key=value fields → ,"key":"value" (values are strings in JSON). */
static size_t
json_fields(char *out, size_t cap, size_t o, const char *f)
{
	while (*f && o + 8 < cap) {
		const char *eq = strchr(f, '='), *v, *end;

		if (eq == NULL)
			break;
		o += (size_t)snprintf(out + o, cap - o, ",\"%.*s\":",
				      (int)(eq - f), f);
		if (o >= cap)
			break;
		v = eq + 1;
		if (*v == '"') {
			end = strchr(v + 1, '"');
			end = end ? end : v + strlen(v);
			o = quote(out, cap, o, v + 1, (size_t)(end - v - 1));
			f = *end ? end + 1 : end;
		} else {
			end = strchr(v, ' ');
			end = end ? end : v + strlen(v);
			o = quote(out, cap, o, v, (size_t)(end - v));
			f = end;
		}
		while (*f == ' ')
			f++;
	}
	return o;
}

void
log_msg(enum log_level lvl, const char *module, const char *fmt, ...)
{
	char text[512], line[1400], when[64];
	const char *fields;
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t o, mlen;

	if (lvl > log_threshold)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fields = fields_start(text);
	mlen = (size_t)(fields - text);
	while (mlen > 0 && text[mlen - 1] == ' ')
		mlen--;

	if (log_format == LOG_FMT_JSON) {
		o = (size_t)snprintf(line, sizeof(line),
				     "{\"time\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":",
				     when, level_names[lvl], module);
		o = quote(line, sizeof(line), o, text, mlen);
		o = json_fields(line, sizeof(line), o, fields);
		snprintf(line + (o < sizeof(line) ? o : sizeof(line) - 1),
			 sizeof(line) - (o < sizeof(line) ? o : sizeof(line) - 1),
			 "}");
	} else {
		/* logfmt: time level component msg, then the fields */
		o = (size_t)snprintf(line, sizeof(line),
				     "time=%s level=%s component=%s msg=", when,
				     level_names[lvl], module);
		o = quote(line, sizeof(line), o, text, mlen);
		if (*fields && o + 2 < sizeof(line))
			snprintf(line + o, sizeof(line) - o, " %s", fields);
	}
	/* one write per line so lines from several threads do not interleave */
	fprintf(stderr, "%s\n", line);
}
