#include "frames.h"

#include <string.h>

#include "alloc.h"
#include "hash.h"

/* Strings live in chunks that never move, so the pointers handed out by
 * strobe_frames_get stay valid while the table grows. */
#define CHUNK_SIZE (64u * 1024u)
#define EMPTY_SLOT UINT32_MAX

typedef struct chunk {
    struct chunk *next;
    size_t used, size;
    char data[];
} chunk;

typedef struct interned {
    const char *p;
    size_t len;
    uint64_t hash;
} interned;

struct strobe_frames {
    strobe_frame *frames;
    uint64_t *frame_hash;
    size_t count, cap, hash_cap;
    uint32_t *frame_slots; /* frame ids, open addressing; mask = n - 1 */
    size_t n_frame_slots;

    interned *strs; /* each distinct string once */
    size_t n_strs, strs_cap;
    uint32_t *str_slots;
    size_t n_str_slots;

    chunk *chunks;
    size_t memory;
};

static uint32_t *new_slots(size_t n)
{
    uint32_t *slots = strobe_malloc(n * sizeof(*slots));

    if (slots != NULL)
        memset(slots, 0xff, n * sizeof(*slots)); /* EMPTY_SLOT everywhere */
    return slots;
}

strobe_frames *strobe_frames_new(void)
{
    strobe_frames *t = strobe_calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->n_frame_slots = 64;
    t->n_str_slots = 64;
    t->frame_slots = new_slots(t->n_frame_slots);
    t->str_slots = new_slots(t->n_str_slots);
    if (t->frame_slots == NULL || t->str_slots == NULL) {
        strobe_frames_free(t);
        return NULL;
    }
    return t;
}

void strobe_frames_free(strobe_frames *t)
{
    chunk *c, *next;

    if (t == NULL)
        return;
    for (c = t->chunks; c != NULL; c = next) {
        next = c->next;
        strobe_free(c);
    }
    strobe_free(t->frames);
    strobe_free(t->frame_hash);
    strobe_free(t->frame_slots);
    strobe_free(t->strs);
    strobe_free(t->str_slots);
    strobe_free(t);
}

/* Doubles an open-addressing table once it is 3/4 full (ids are re-placed
 * from their stored hashes, so no key is re-read). */
static int grow_slots(uint32_t **slots, size_t *n_slots, size_t used,
                      const void *hashes, size_t stride)
{
    size_t n = *n_slots * 2, i, mask = n - 1;
    uint32_t *fresh;

    if (used + 1 <= *n_slots / 4 * 3)
        return 0;
    fresh = new_slots(n);
    if (fresh == NULL)
        return -1;
    for (i = 0; i < used; i++) {
        uint64_t h;
        size_t pos;

        memcpy(&h, (const char *)hashes + i * stride, sizeof(h));
        pos = h & mask;
        while (fresh[pos] != EMPTY_SLOT)
            pos = (pos + 1) & mask;
        fresh[pos] = (uint32_t)i;
    }
    strobe_free(*slots);
    *slots = fresh;
    *n_slots = n;
    return 0;
}

static const char *arena_copy(strobe_frames *t, const char *s, size_t n)
{
    chunk *c = t->chunks;
    char *p;

    if (c == NULL || c->size - c->used < n + 1) {
        size_t size = n + 1 > CHUNK_SIZE ? n + 1 : CHUNK_SIZE;

        if (n >= SIZE_MAX - sizeof(chunk) - 1)
            return NULL;
        c = strobe_malloc(sizeof(chunk) + size);
        if (c == NULL)
            return NULL;
        c->size = size;
        c->used = 0;
        /* A big string gets a chunk of its own behind the current one, so
         * the current chunk's free space is not thrown away. */
        if (size > CHUNK_SIZE && t->chunks != NULL) {
            c->next = t->chunks->next;
            t->chunks->next = c;
        } else {
            c->next = t->chunks;
            t->chunks = c;
        }
        t->memory += sizeof(chunk) + size;
    }
    p = c->data + c->used;
    if (n > 0)
        memcpy(p, s, n);
    p[n] = '\0';
    c->used += n + 1;
    return p;
}

static int intern_string(strobe_frames *t, const char *s, size_t n,
                         const char **out)
{
    uint64_t h = strobe_fnv1a(STROBE_FNV_OFFSET, s, n);
    size_t mask = t->n_str_slots - 1, pos = h & mask;
    const char *copy;
    uint32_t id;

    while ((id = t->str_slots[pos]) != EMPTY_SLOT) {
        const interned *e = &t->strs[id];

        if (e->hash == h && e->len == n && memcmp(e->p, s, n) == 0) {
            *out = e->p;
            return 0;
        }
        pos = (pos + 1) & mask;
    }
    if (t->n_strs >= UINT32_MAX - 1 ||
        strobe_array_reserve(&t->strs, &t->strs_cap, t->n_strs + 1,
                             sizeof(interned)) < 0 ||
        grow_slots(&t->str_slots, &t->n_str_slots, t->n_strs, &t->strs[0].hash,
                   sizeof(interned)) < 0)
        return -1;
    copy = arena_copy(t, s, n);
    if (copy == NULL)
        return -1;
    id = (uint32_t)t->n_strs++;
    t->strs[id].p = copy;
    t->strs[id].len = n;
    t->strs[id].hash = h;
    mask = t->n_str_slots - 1;
    pos = h & mask;
    while (t->str_slots[pos] != EMPTY_SLOT)
        pos = (pos + 1) & mask;
    t->str_slots[pos] = id;
    *out = copy;
    return 0;
}

static uint64_t frame_hash(const char *name, size_t name_len, const char *file,
                           size_t file_len, int32_t first_line, uint8_t kind)
{
    uint64_t h = STROBE_FNV_OFFSET;
    unsigned char tail[5];
    uint32_t line = (uint32_t)first_line;

    /* Lengths go in too, so ("ab", "c") and ("a", "bc") differ. */
    h = strobe_fnv1a(h, &name_len, sizeof(name_len));
    h = strobe_fnv1a(h, name, name_len);
    h = strobe_fnv1a(h, &file_len, sizeof(file_len));
    h = strobe_fnv1a(h, file, file_len);
    memcpy(tail, &line, 4);
    tail[4] = kind;
    h = strobe_fnv1a(h, tail, sizeof(tail));
    return strobe_mix64(h);
}

int strobe_frames_intern(strobe_frames *t, const char *name, size_t name_len,
                         const char *file, size_t file_len, int32_t first_line,
                         uint8_t kind, uint32_t *id_out)
{
    uint64_t h;
    size_t mask, pos;
    uint32_t id;
    strobe_frame f;

    if (name == NULL)
        name_len = 0;
    if (file == NULL)
        file_len = 0;
    h = frame_hash(name, name_len, file, file_len, first_line, kind);
    mask = t->n_frame_slots - 1;
    pos = h & mask;
    while ((id = t->frame_slots[pos]) != EMPTY_SLOT) {
        const strobe_frame *e = &t->frames[id];

        if (t->frame_hash[id] == h && e->first_line == first_line &&
            e->kind == kind && e->name_len == name_len &&
            e->file_len == file_len &&
            (name_len == 0 || memcmp(e->name, name, name_len) == 0) &&
            (file_len == 0 || memcmp(e->file, file, file_len) == 0)) {
            *id_out = id;
            return 0;
        }
        pos = (pos + 1) & mask;
    }

    /* Make every room first: a failure below then leaves at most an unused
     * interned string behind. */
    if (t->count >= STROBE_NO_FRAME - 1 ||
        strobe_array_reserve(&t->frames, &t->cap, t->count + 1,
                             sizeof(strobe_frame)) < 0 ||
        strobe_array_reserve(&t->frame_hash, &t->hash_cap, t->count + 1,
                             sizeof(uint64_t)) < 0 ||
        grow_slots(&t->frame_slots, &t->n_frame_slots, t->count, t->frame_hash,
                   sizeof(uint64_t)) < 0)
        return -1;
    f.name_len = name_len;
    f.file_len = file_len;
    f.first_line = first_line;
    f.kind = kind;
    if (intern_string(t, name_len ? name : "", name_len, &f.name) < 0 ||
        intern_string(t, file_len ? file : "", file_len, &f.file) < 0)
        return -1;

    id = (uint32_t)t->count++;
    t->frames[id] = f;
    t->frame_hash[id] = h;
    mask = t->n_frame_slots - 1;
    pos = h & mask;
    while (t->frame_slots[pos] != EMPTY_SLOT)
        pos = (pos + 1) & mask;
    t->frame_slots[pos] = id;
    *id_out = id;
    return 0;
}

size_t strobe_frames_count(const strobe_frames *t)
{
    return t->count;
}

int strobe_frames_get(const strobe_frames *t, uint32_t id, strobe_frame *out)
{
    if (t == NULL || id >= t->count)
        return -1;
    *out = t->frames[id];
    return 0;
}

size_t strobe_frames_memory(const strobe_frames *t)
{
    return sizeof(*t) + t->memory + t->cap * sizeof(strobe_frame) +
           t->hash_cap * sizeof(uint64_t) +
           t->n_frame_slots * sizeof(uint32_t) +
           t->strs_cap * sizeof(interned) + t->n_str_slots * sizeof(uint32_t);
}
