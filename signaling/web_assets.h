/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef SOTTO_WEB_ASSETS_H
#define SOTTO_WEB_ASSETS_H

/* The web client (signaling/web/), compiled in by scripts/embed_web.py. */
struct web_asset {
	const char *path;          /* "/" for index.html, else "/<file>" */
	const char *content_type;
	const unsigned char *data;
	unsigned len;
	const char *etag;          /* quoted, from the content's SHA-256 */
};

extern const struct web_asset web_assets[];
extern const unsigned web_assets_count;

#endif
