/* feedback_token.c: single-use invitation tokens and their hashes. */
#include "feedback_token.h"

#include <sodium.h>
#include <string.h>

#include "crm_error.h"

void feedback_token_new(char out[FEEDBACK_TOKEN_SIZE])
{
    unsigned char raw[FEEDBACK_TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, FEEDBACK_TOKEN_SIZE, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

bool feedback_token_valid(const char *text)
{
    if (!text)
        return false;
    size_t i = 0;
    for (; text[i] && i <= FEEDBACK_TOKEN_LEN; i++) {
        char c = text[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
                  || c == '_';
        if (!ok)
            return false;
    }
    return i == FEEDBACK_TOKEN_LEN;
}

int feedback_token_hash(const char *text, uint8_t out[FEEDBACK_TOKEN_HASH_LEN])
{
    if (!feedback_token_valid(text))
        return CRM_EINVALID;
    crypto_generichash(out, FEEDBACK_TOKEN_HASH_LEN, (const unsigned char *) text, FEEDBACK_TOKEN_LEN, NULL, 0);
    return 0;
}
