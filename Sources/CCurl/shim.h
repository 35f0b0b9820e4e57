#ifndef INGESTD_CCURL_SHIM_H
#define INGESTD_CCURL_SHIM_H
#include <curl/curl.h>
#include <zlib.h>
#include <string.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic and cannot be called from Swift;
   these typed wrappers are the whole reason this shim exists. */
static inline CURLcode ingestd_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode ingestd_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode ingestd_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode ingestd_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
typedef size_t (*ingestd_curl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode ingestd_curl_setopt_write_function(CURL *handle, ingestd_curl_data_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}
static inline CURLcode ingestd_curl_setopt_header_function(CURL *handle, ingestd_curl_data_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
}
static inline CURLcode ingestd_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode ingestd_curl_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return curl_easy_getinfo(handle, info, value);
}
/* CURL_GLOBAL_ALL is a macro built from other macros; Swift does not import it. */
static inline CURLcode ingestd_curl_global_init_all(void) {
    return curl_global_init(CURL_GLOBAL_ALL);
}
static inline CURLcode ingestd_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *list) {
    return curl_easy_setopt(handle, option, list);
}
static inline CURLcode ingestd_curl_setopt_userdata(CURL *handle, CURLoption option, void *userdata) {
    return curl_easy_setopt(handle, option, userdata);
}

/* gzip (RFC 1952) of one buffer with zlib, which libcurl already links. curl can decompress
   responses but never compresses request bodies, so the writer does it itself.
   deflateInit2 is a macro and cannot be called from Swift, hence this wrapper.
   Returns Z_OK and the compressed size in *out_len, or a zlib error code.
   `out_capacity` of ingestd_gzip_bound(in_len) is always enough. */
static inline size_t ingestd_gzip_bound(size_t in_len) {
    /* compressBound covers the zlib wrapper (6 bytes); gzip's is 18; keep a margin. */
    return (size_t)compressBound((uLong)in_len) + 32;
}
static inline int ingestd_gzip(const unsigned char *in, size_t in_len,
                               unsigned char *out, size_t out_capacity, size_t *out_len, int level) {
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    /* windowBits 15 + 16 selects the gzip wrapper instead of zlib's. */
    int rc = deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) return rc;
    stream.next_in = (Bytef *)in;
    stream.avail_in = (uInt)in_len;
    stream.next_out = out;
    stream.avail_out = (uInt)out_capacity;
    rc = deflate(&stream, Z_FINISH);
    *out_len = (size_t)stream.total_out;
    deflateEnd(&stream);
    return rc == Z_STREAM_END ? Z_OK : (rc == Z_OK ? Z_BUF_ERROR : rc);
}
#endif
