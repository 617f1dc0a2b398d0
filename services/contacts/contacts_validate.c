/* contacts_validate.c: checks and normalises customers, interactions, purchases and refunds, naming the offending field. */
#include "contacts_validate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crm_error.h"
#include "crm_time.h"

#define S_LOCALE_SUBTAG_MAX   8
#define S_LANGUAGE_MIN        2
#define S_COUNTRY_LEN         2
#define S_DATE_LEN            10     /* YYYY-MM-DD */
#define S_DATE_DASH1          4      /* offsets in YYYY-MM-DD */
#define S_DATE_MONTH          5
#define S_DATE_DASH2          7
#define S_DATE_DAY            8
#define S_ASCII_CONTROL_END   0x20   /* bytes below are control characters ... */
#define S_ASCII_DEL           0x7F   /* ... and so is DEL */
#define S_UTF8_FIRST          0x80   /* bytes from here on belong to UTF-8 sequences */
#define S_DOUBLE_DIGITS_MAX   17     /* enough for any double to read back exactly */
#define S_MONTHS              12

int
contacts_fail(contacts_err_t *err, int code, const char *field, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->conflict_id[0] = '\0';
    return code;
}

/* --- Small helpers */

static bool
s_ascii_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
s_ascii_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool
s_ascii_alnum(int c)
{
    return s_ascii_alpha(c) || s_ascii_digit(c);
}

/* Checks optional text: at most max bytes, no control characters (tabs and line breaks too when
 * multiline). */
static int
s_text(contacts_err_t *err, const char *field, const char *s, size_t max, bool multiline)
{
    size_t len = strlen(s);
    if (len > max)
        return contacts_fail(err, CRM_EINVALID, field, "%s is longer than %zu bytes", field, max);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        bool allowed_break = multiline && (c == '\n' || c == '\r' || c == '\t');
        if ((c < S_ASCII_CONTROL_END || c == S_ASCII_DEL) && !allowed_break)
            return contacts_fail(err, CRM_EINVALID, field, "%s contains a control character", field);
    }
    return 0;
}

/* As s_text, and not empty or blank. */
static int
s_text_required(contacts_err_t *err, const char *field, const char *s, size_t max)
{
    bool visible = false;
    for (const char *p = s; *p && !visible; p++)
        visible = *p != ' ' && *p != '\t';
    if (!visible)
        return contacts_fail(err, CRM_EINVALID, field, "%s is required", field);
    return s_text(err, field, s, max, false);
}

static bool
s_enum_valid(const ProtobufCEnumDescriptor *desc, int value)
{
    return protobuf_c_enum_descriptor_get_value(desc, value) != NULL;
}

static int
s_enum(contacts_err_t *err, const char *field, const ProtobufCEnumDescriptor *desc, int value)
{
    if (!s_enum_valid(desc, value))
        return contacts_fail(err, CRM_EINVALID, field, "%s has an unknown value %d", field, value);
    return 0;
}

static int
s_time(contacts_err_t *err, const char *field, const Crm__V1__Timestamp *t)
{
    if (t && !contacts_timestamp_valid(t))
        return contacts_fail(err, CRM_EINVALID, field, "%s is not a valid time", field);
    return 0;
}

int
contacts_str_set(char **slot, const char *s)
{
    char *copy = strdup(s);
    if (!copy)
        return CRM_ENOMEM;
    if (*slot && *slot != protobuf_c_empty_string)
        free(*slot);
    *slot = copy;
    return 0;
}

int
contacts_ts_set(Crm__V1__Timestamp **slot, int64_t us)
{
    if (!*slot) {
        *slot = malloc(sizeof **slot);
        if (!*slot)
            return CRM_ENOMEM;
        crm__v1__timestamp__init(*slot);
    }
    int64_t seconds = us / CRM_TIME_US_PER_SECOND;
    int64_t rest = us % CRM_TIME_US_PER_SECOND;
    if (rest < 0) {
        seconds -= 1;
        rest += CRM_TIME_US_PER_SECOND;
    }
    (*slot)->seconds = seconds;
    (*slot)->nanos = (int32_t) (rest * (CRM_TIME_NANOS_PER_SECOND / CRM_TIME_US_PER_SECOND));
    return 0;
}

int64_t
contacts_ts_us(const Crm__V1__Timestamp *t)
{
    if (!t)
        return 0;
    return t->seconds * CRM_TIME_US_PER_SECOND
           + t->nanos / (CRM_TIME_NANOS_PER_SECOND / CRM_TIME_US_PER_SECOND);
}

bool
contacts_timestamp_valid(const Crm__V1__Timestamp *t)
{
    return t->seconds >= CRM_TIME_MIN_SECONDS && t->seconds <= CRM_TIME_MAX_SECONDS
           && t->nanos >= 0 && t->nanos < CRM_TIME_NANOS_PER_SECOND;
}

void
contacts_fold(const char *s, char *out, size_t size)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++) {
        char c = s[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
    }
    if (size)
        out[i] = '\0';
}

void
contacts_value_text(const Crm__V1__Value *v, char *out, size_t size)
{
    if (!v) {
        snprintf(out, size, "%s", "");
        return;
    }
    switch (v->kind_case) {
    case CRM__V1__VALUE__KIND_STRING_VALUE:
        snprintf(out, size, "%s", v->string_value);
        break;
    case CRM__V1__VALUE__KIND_BOOL_VALUE:
        snprintf(out, size, "%s", v->bool_value ? "true" : "false");
        break;
    case CRM__V1__VALUE__KIND_NUMBER_VALUE: {
        /* The shortest text that reads back as the same number. */
        char number[S_DOUBLE_DIGITS_MAX + 16] = "";
        for (int digits = 1; digits <= S_DOUBLE_DIGITS_MAX; digits++) {
            snprintf(number, sizeof number, "%.*g", digits, v->number_value);
            if (strtod(number, NULL) == v->number_value)
                break;
        }
        snprintf(out, size, "%s", number);
        break;
    }
    default:
        snprintf(out, size, "%s", "");
        break;
    }
}

/* --- Formats */

/* atext of RFC 5322, plus any byte of a UTF-8 sequence (internationalised addresses). */
static bool
s_email_atext(unsigned char c)
{
    return s_ascii_alnum(c) || c >= S_UTF8_FIRST || (c && strchr("!#$%&'*+/=?^_`{|}~-", c));
}

bool
contacts_email_valid(const char *email)
{
    size_t len = strlen(email);
    const char *at = strchr(email, '@');
    if (len == 0 || len > CONTACTS_EMAIL_MAX || !at)
        return false;
    size_t local_len = (size_t) (at - email);
    if (local_len == 0 || local_len > CONTACTS_EMAIL_LOCAL_MAX)
        return false;
    bool after_dot = true;      /* a leading dot is refused */
    for (size_t i = 0; i < local_len; i++) {
        unsigned char c = (unsigned char) email[i];
        if (c == '.') {
            if (after_dot)
                return false;
            after_dot = true;
        } else if (s_email_atext(c)) {
            after_dot = false;
        } else {
            return false;
        }
    }
    if (after_dot)
        return false;
    /* domain: two or more labels of letters, digits and inner hyphens; the last not all digits */
    const char *label = at + 1;
    int labels = 0;
    for (;;) {
        size_t n = 0;
        bool all_digits = true;
        while (label[n] && label[n] != '.') {
            unsigned char c = (unsigned char) label[n];
            if (!(s_ascii_alnum(c) || c == '-' || c >= S_UTF8_FIRST))
                return false;
            all_digits = all_digits && s_ascii_digit(c);
            n++;
        }
        if (n == 0 || n > CONTACTS_EMAIL_LABEL_MAX || label[0] == '-' || label[n - 1] == '-')
            return false;
        labels++;
        if (!label[n])
            return labels >= 2 && !all_digits;
        label += n + 1;
    }
}

int
contacts_phone_normalise(const char *in, char *out, size_t size)
{
    if (strlen(in) > CONTACTS_PHONE_TEXT_MAX || size < CONTACTS_PHONE_SIZE)
        return CRM_EINVALID;
    const char *p = in;
    while (*p == ' ')
        p++;
    if (*p != '+')
        return CRM_EINVALID;
    p++;
    size_t digits = 0;
    out[0] = '+';
    for (; *p; p++) {
        if (s_ascii_digit(*p)) {
            if (digits == CONTACTS_PHONE_DIGITS_MAX)
                return CRM_EINVALID;
            if (digits == 0 && *p == '0')
                return CRM_EINVALID;   /* no country code starts with 0 */
            out[1 + digits++] = *p;
        } else if (!strchr(" -.()", *p)) {
            return CRM_EINVALID;
        }
    }
    if (digits < CONTACTS_PHONE_DIGITS_MIN)
        return CRM_EINVALID;
    out[1 + digits] = '\0';
    return 0;
}

static int
s_days_in_month(int year, int month)
{
    static const int days[S_MONTHS] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

bool
contacts_birthday_valid(const char *text, int64_t now_us)
{
    if (strlen(text) != S_DATE_LEN || text[S_DATE_DASH1] != '-' || text[S_DATE_DASH2] != '-')
        return false;
    for (int i = 0; i < S_DATE_LEN; i++)
        if (i != S_DATE_DASH1 && i != S_DATE_DASH2 && !s_ascii_digit(text[i]))
            return false;
    int year = atoi(text);
    int month = atoi(text + S_DATE_MONTH);
    int day = atoi(text + S_DATE_DAY);
    if (year < CONTACTS_BIRTH_YEAR_MIN || month < 1 || month > S_MONTHS || day < 1
        || day > s_days_in_month(year, month))
        return false;
    time_t now = (time_t) (now_us / CRM_TIME_US_PER_SECOND);
    struct tm tm;
    char today[S_DATE_LEN + 1];
    if (!gmtime_r(&now, &tm) || strftime(today, sizeof today, "%Y-%m-%d", &tm) != S_DATE_LEN)
        return false;
    return strcmp(text, today) <= 0;
}

bool
contacts_currency_valid(const char *code)
{
    if (strlen(code) != CONTACTS_CURRENCY_LEN)
        return false;
    for (int i = 0; i < CONTACTS_CURRENCY_LEN; i++)
        if (code[i] < 'A' || code[i] > 'Z')
            return false;
    return true;
}

/* BCP 47 shape: a language subtag of letters, then subtags of 1 to 8 letters or digits. */
static bool
s_locale_valid(const char *s)
{
    size_t len = strlen(s);
    if (len > CONTACTS_LOCALE_MAX)
        return false;
    const char *p = s;
    bool first = true;
    for (;;) {
        size_t n = 0;
        while (p[n] && p[n] != '-') {
            if (!(first ? s_ascii_alpha(p[n]) : s_ascii_alnum(p[n])))
                return false;
            n++;
        }
        if (n == 0 || n > S_LOCALE_SUBTAG_MAX || (first && n < S_LANGUAGE_MIN))
            return false;
        if (!p[n])
            return true;
        p += n + 1;
        first = false;
    }
}

/* --- Customers */

/* Checks a repeated text field (tags, interests) and drops repeated entries, keeping the first. */
static int
s_string_list(contacts_err_t *err, const char *field, char **items, size_t *count, size_t max_items,
              size_t max_len)
{
    if (*count > max_items)
        return contacts_fail(err, CRM_EINVALID, field, "%s has more than %zu entries", field, max_items);
    char path[CONTACTS_FIELD_MAX];
    size_t kept = 0;
    for (size_t i = 0; i < *count; i++) {
        snprintf(path, sizeof path, "%s[%zu]", field, i);
        int rc = s_text_required(err, path, items[i], max_len);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < *count; i++) {
        bool seen = false;
        for (size_t j = 0; j < kept && !seen; j++)
            seen = strcmp(items[j], items[i]) == 0;
        if (seen) {
            if (items[i] != protobuf_c_empty_string)
                free(items[i]);
        } else {
            items[kept++] = items[i];
        }
    }
    *count = kept;
    return 0;
}

static int
s_external_ids(Crm__V1__Customer *c, contacts_err_t *err)
{
    if (c->n_external_ids > CONTACTS_EXTERNAL_IDS_MAX)
        return contacts_fail(err, CRM_EINVALID, "externalIds", "externalIds has more than %d entries",
                             CONTACTS_EXTERNAL_IDS_MAX);
    char path[CONTACTS_FIELD_MAX];
    for (size_t i = 0; i < c->n_external_ids; i++) {
        const Crm__V1__ExternalId *x = c->external_ids[i];
        snprintf(path, sizeof path, "externalIds[%zu].system", i);
        int rc = s_text_required(err, path, x->system, CONTACTS_EXTERNAL_SYSTEM_MAX);
        if (rc)
            return rc;
        snprintf(path, sizeof path, "externalIds[%zu].id", i);
        if ((rc = s_text_required(err, path, x->id, CONTACTS_EXTERNAL_ID_MAX)))
            return rc;
    }
    size_t kept = 0;
    for (size_t i = 0; i < c->n_external_ids; i++) {
        Crm__V1__ExternalId *x = c->external_ids[i];
        bool seen = false;
        for (size_t j = 0; j < kept && !seen; j++)
            seen = strcmp(c->external_ids[j]->system, x->system) == 0
                   && strcmp(c->external_ids[j]->id, x->id) == 0;
        if (seen)
            protobuf_c_message_free_unpacked(&x->base, NULL);
        else
            c->external_ids[kept++] = x;
    }
    c->n_external_ids = kept;
    return 0;
}

static bool
s_custom_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > CONTACTS_CUSTOM_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(s_ascii_alnum(name[i]) || name[i] == '_' || name[i] == '-'))
            return false;
    return true;
}

static int
s_custom_fields(const Crm__V1__Customer *c, contacts_err_t *err)
{
    if (c->n_custom_fields > CONTACTS_CUSTOM_FIELDS_MAX)
        return contacts_fail(err, CRM_EINVALID, "customFields", "customFields has more than %d entries",
                             CONTACTS_CUSTOM_FIELDS_MAX);
    char path[CONTACTS_FIELD_MAX];
    for (size_t i = 0; i < c->n_custom_fields; i++) {
        const Crm__V1__Customer__CustomFieldsEntry *e = c->custom_fields[i];
        snprintf(path, sizeof path, "customFields.%s", e->key);
        if (!s_custom_name_valid(e->key))
            return contacts_fail(err, CRM_EINVALID, path,
                                 "custom field names have 1 to %d letters, digits, '_' or '-'",
                                 CONTACTS_CUSTOM_NAME_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->custom_fields[j]->key, e->key) == 0)
                return contacts_fail(err, CRM_EINVALID, path, "%s is given twice", path);
        const Crm__V1__Value *v = e->value;
        if (!v || v->kind_case == CRM__V1__VALUE__KIND__NOT_SET)
            return contacts_fail(err, CRM_EINVALID, path, "%s needs a string, number or boolean", path);
        if (v->kind_case == CRM__V1__VALUE__KIND_STRING_VALUE) {
            int rc = s_text(err, path, v->string_value, CONTACTS_CUSTOM_VALUE_MAX, false);
            if (rc)
                return rc;
        } else if (v->kind_case == CRM__V1__VALUE__KIND_NUMBER_VALUE && !isfinite(v->number_value)) {
            return contacts_fail(err, CRM_EINVALID, path, "%s is not a finite number", path);
        }
    }
    return 0;
}

static int
s_address(Crm__V1__Address *a, contacts_err_t *err)
{
    int rc;
    if ((rc = s_text(err, "address.line1", a->line1, CONTACTS_TEXT_MAX, false))
        || (rc = s_text(err, "address.line2", a->line2, CONTACTS_TEXT_MAX, false))
        || (rc = s_text(err, "address.city", a->city, CONTACTS_TEXT_MAX, false))
        || (rc = s_text(err, "address.region", a->region, CONTACTS_TEXT_MAX, false))
        || (rc = s_text(err, "address.postalCode", a->postal_code, CONTACTS_TEXT_MAX, false)))
        return rc;
    if (*a->country) {
        if (strlen(a->country) != S_COUNTRY_LEN || !s_ascii_alpha(a->country[0])
            || !s_ascii_alpha(a->country[1]))
            return contacts_fail(err, CRM_EINVALID, "address.country",
                                 "address.country must be an ISO 3166-1 alpha-2 code such as DE or CN");
        for (int i = 0; i < S_COUNTRY_LEN; i++)
            if (a->country[i] >= 'a' && a->country[i] <= 'z')
                a->country[i] = (char) (a->country[i] - 'a' + 'A');
    }
    return 0;
}

int
contacts_validate_customer(Crm__V1__Customer *c, bool name_required, contacts_err_t *err)
{
    int rc;
    if (name_required || *c->name) {
        if ((rc = s_text_required(err, "name", c->name, CONTACTS_NAME_MAX)))
            return rc;
    }
    if (*c->email) {
        if ((rc = s_text(err, "email", c->email, CONTACTS_EMAIL_MAX, false)))
            return rc;
        if (!contacts_email_valid(c->email))
            return contacts_fail(err, CRM_EINVALID, "email",
                                 "email is not a valid address such as name@example.com");
    }
    if (*c->phone) {
        char phone[CONTACTS_PHONE_SIZE];
        if (contacts_phone_normalise(c->phone, phone, sizeof phone))
            return contacts_fail(err, CRM_EINVALID, "phone",
                                 "phone must be in international form, '+' and %d to %d digits, "
                                 "such as +49 30 1234567", CONTACTS_PHONE_DIGITS_MIN,
                                 CONTACTS_PHONE_DIGITS_MAX);
        if (strcmp(phone, c->phone) != 0 && (rc = contacts_str_set(&c->phone, phone)))
            return rc;
    }
    if (c->address && (rc = s_address(c->address, err)))
        return rc;
    if (*c->birthday && !contacts_birthday_valid(c->birthday, crm_time_now_us()))
        return contacts_fail(err, CRM_EINVALID, "birthday",
                             "birthday must be a real date YYYY-MM-DD from %d until today",
                             CONTACTS_BIRTH_YEAR_MIN);
    if ((rc = s_text(err, "occupation", c->occupation, CONTACTS_TEXT_MAX, false))
        || (rc = s_text(err, "owner", c->owner, CONTACTS_OWNER_MAX, false)))
        return rc;
    if (*c->locale && !s_locale_valid(c->locale))
        return contacts_fail(err, CRM_EINVALID, "locale",
                             "locale must be a BCP 47 language tag such as en or zh-CN");
    if ((rc = s_string_list(err, "interests", c->interests, &c->n_interests, CONTACTS_INTERESTS_MAX,
                            CONTACTS_INTEREST_MAX))
        || (rc = s_string_list(err, "tags", c->tags, &c->n_tags, CONTACTS_TAGS_MAX, CONTACTS_TAG_MAX))
        || (rc = s_external_ids(c, err))
        || (rc = s_custom_fields(c, err)))
        return rc;
    if (c->consent) {
        if ((rc = s_enum(err, "consent.email", &crm__v1__consent_state__descriptor, (int) c->consent->email))
            || (rc = s_enum(err, "consent.sms", &crm__v1__consent_state__descriptor, (int) c->consent->sms))
            || (rc = s_enum(err, "consent.phone", &crm__v1__consent_state__descriptor, (int) c->consent->phone)))
            return rc;
    }
    if ((rc = s_enum(err, "valueTier", &crm__v1__value_tier__descriptor, (int) c->value_tier))
        || (rc = s_enum(err, "needType", &crm__v1__need_type__descriptor, (int) c->need_type))
        || (rc = s_enum(err, "lifecycleStage", &crm__v1__lifecycle_stage__descriptor,
                        (int) c->lifecycle_stage)))
        return rc;
    return 0;
}

/* --- Interactions, purchases, refunds */

int
contacts_validate_interaction(const Crm__V1__Interaction *it, contacts_err_t *err)
{
    int rc;
    if (it->channel == CRM__V1__CHANNEL__CHANNEL_UNSPECIFIED)
        return contacts_fail(err, CRM_EINVALID, "channel",
                             "channel is required: phone, email, social, chat or visit");
    if ((rc = s_enum(err, "channel", &crm__v1__channel__descriptor, (int) it->channel))
        || (rc = s_enum(err, "direction", &crm__v1__direction__descriptor, (int) it->direction))
        || (rc = s_text(err, "summary", it->summary, CONTACTS_SUMMARY_MAX, true))
        || (rc = s_text(err, "agent", it->agent, CONTACTS_AGENT_MAX, false))
        || (rc = s_time(err, "occurredAt", it->occurred_at)))
        return rc;
    return 0;
}

static int
s_amount(contacts_err_t *err, const char *field, int64_t amount, int64_t min)
{
    if (amount < min)
        return contacts_fail(err, CRM_EINVALID, field, min > 0 ? "%s must be above 0" :
                             "%s must not be negative", field);
    if (amount > CONTACTS_AMOUNT_MAX)
        return contacts_fail(err, CRM_EINVALID, field, "%s is above %lld", field,
                             (long long) CONTACTS_AMOUNT_MAX);
    return 0;
}

int
contacts_validate_purchase(const Crm__V1__Purchase *p, contacts_err_t *err)
{
    int rc;
    if ((rc = s_text(err, "orderId", p->order_id, CONTACTS_ORDER_ID_MAX, false))
        || (rc = s_amount(err, "amountMinor", p->amount_minor, 0)))
        return rc;
    if (!contacts_currency_valid(p->currency))
        return contacts_fail(err, CRM_EINVALID, "currency",
                             "currency must be an ISO 4217 code of three upper-case letters, such as EUR");
    if (p->n_items > CONTACTS_ITEMS_MAX)
        return contacts_fail(err, CRM_EINVALID, "items", "items has more than %d entries",
                             CONTACTS_ITEMS_MAX);
    char path[CONTACTS_FIELD_MAX];
    for (size_t i = 0; i < p->n_items; i++) {
        const Crm__V1__PurchaseItem *item = p->items[i];
        snprintf(path, sizeof path, "items[%zu].sku", i);
        if ((rc = s_text(err, path, item->sku, CONTACTS_SKU_MAX, false)))
            return rc;
        snprintf(path, sizeof path, "items[%zu].name", i);
        if ((rc = s_text(err, path, item->name, CONTACTS_ITEM_NAME_MAX, false)))
            return rc;
        snprintf(path, sizeof path, "items[%zu].quantity", i);
        if (item->quantity == 0)
            return contacts_fail(err, CRM_EINVALID, path, "%s must be at least 1", path);
        snprintf(path, sizeof path, "items[%zu].unitPriceMinor", i);
        if ((rc = s_amount(err, path, item->unit_price_minor, 0)))
            return rc;
    }
    if ((rc = s_time(err, "purchasedAt", p->purchased_at)))
        return rc;
    if (p->n_refunds || p->refunded_minor)
        return contacts_fail(err, CRM_EINVALID, p->n_refunds ? "refunds" : "refundedMinor",
                             "refunds are added with a refund of the recorded purchase");
    return 0;
}

int
contacts_validate_refund(const Crm__V1__Refund *r, contacts_err_t *err)
{
    int rc;
    if ((rc = s_text(err, "id", r->id, CONTACTS_REFUND_ID_MAX, false))
        || (rc = s_amount(err, "amountMinor", r->amount_minor, 1))
        || (rc = s_text(err, "reason", r->reason, CONTACTS_REASON_MAX, true))
        || (rc = s_time(err, "refundedAt", r->refunded_at)))
        return rc;
    return 0;
}
