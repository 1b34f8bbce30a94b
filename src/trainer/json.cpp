#include "json.h"

#include <cstdlib>
#include <cstring>

namespace prism {

const JsonValue * JsonValue::get(const char * key) const {
    if (type != OBJECT) {
        return nullptr;
    }
    for (const auto & f : fields) {
        if (f.first == key) {
            return &f.second;
        }
    }
    return nullptr;
}

namespace {

struct Parser {
    const char * p;
    const char * begin;
    const char * end;
    std::string err;
    int depth = 0;

    void ws() {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
            ++p;
        }
    }

    bool fail(const char * what) {
        if (err.empty()) {
            err = std::string(what) + " at offset " + std::to_string(p - begin);
        }
        return false;
    }

    bool literal(const char * word) {
        const size_t n = strlen(word);
        if ((size_t) (end - p) < n || strncmp(p, word, n) != 0) {
            return fail("invalid literal");
        }
        p += n;
        return true;
    }

    static void put_utf8(std::string & s, unsigned cp) {
        if (cp < 0x80) {
            s += (char) cp;
        } else if (cp < 0x800) {
            s += (char) (0xC0 | (cp >> 6));
            s += (char) (0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            s += (char) (0xE0 | (cp >> 12));
            s += (char) (0x80 | ((cp >> 6) & 0x3F));
            s += (char) (0x80 | (cp & 0x3F));
        } else {
            s += (char) (0xF0 | (cp >> 18));
            s += (char) (0x80 | ((cp >> 12) & 0x3F));
            s += (char) (0x80 | ((cp >> 6) & 0x3F));
            s += (char) (0x80 | (cp & 0x3F));
        }
    }

    bool hex4(unsigned & out) {
        if (end - p < 4) {
            return fail("truncated \\u escape");
        }
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = *p++;
            out <<= 4;
            if (c >= '0' && c <= '9') out |= c - '0';
            else if (c >= 'a' && c <= 'f') out |= c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') out |= c - 'A' + 10;
            else return fail("invalid \\u escape");
        }
        return true;
    }

    bool string(std::string & s) {
        ++p; // opening quote
        while (p < end && *p != '"') {
            if ((unsigned char) *p < 0x20) {
                return fail("control character in string");
            }
            if (*p != '\\') {
                s += *p++;
                continue;
            }
            if (++p >= end) {
                return fail("truncated escape");
            }
            const char c = *p++;
            switch (c) {
                case '"': s += '"'; break;
                case '\\': s += '\\'; break;
                case '/': s += '/'; break;
                case 'b': s += '\b'; break;
                case 'f': s += '\f'; break;
                case 'n': s += '\n'; break;
                case 'r': s += '\r'; break;
                case 't': s += '\t'; break;
                case 'u': {
                    unsigned cp = 0;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                        p += 2;
                        unsigned lo = 0;
                        if (!hex4(lo)) return false;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    put_utf8(s, cp);
                } break;
                default: return fail("invalid escape");
            }
        }
        if (p >= end) {
            return fail("unterminated string");
        }
        ++p;
        return true;
    }

    bool value(JsonValue & v) {
        if (++depth > 64) {
            return fail("nesting too deep");
        }
        ws();
        if (p >= end) {
            return fail("unexpected end");
        }
        bool ok = true;
        switch (*p) {
            case '{': {
                v.type = JsonValue::OBJECT;
                ++p;
                ws();
                if (p < end && *p == '}') { ++p; break; }
                for (;;) {
                    ws();
                    if (p >= end || *p != '"') { ok = fail("expected key"); break; }
                    std::string key;
                    if (!string(key)) { ok = false; break; }
                    ws();
                    if (p >= end || *p != ':') { ok = fail("expected ':'"); break; }
                    ++p;
                    v.fields.emplace_back(std::move(key), JsonValue());
                    if (!value(v.fields.back().second)) { ok = false; break; }
                    ws();
                    if (p < end && *p == ',') { ++p; continue; }
                    if (p < end && *p == '}') { ++p; break; }
                    ok = fail("expected ',' or '}'");
                    break;
                }
            } break;
            case '[': {
                v.type = JsonValue::ARRAY;
                ++p;
                ws();
                if (p < end && *p == ']') { ++p; break; }
                for (;;) {
                    v.items.emplace_back();
                    if (!value(v.items.back())) { ok = false; break; }
                    ws();
                    if (p < end && *p == ',') { ++p; continue; }
                    if (p < end && *p == ']') { ++p; break; }
                    ok = fail("expected ',' or ']'");
                    break;
                }
            } break;
            case '"':
                v.type = JsonValue::STRING;
                ok = string(v.string);
                break;
            case 't': v.type = JsonValue::BOOL; v.boolean = true; ok = literal("true"); break;
            case 'f': v.type = JsonValue::BOOL; v.boolean = false; ok = literal("false"); break;
            case 'n': v.type = JsonValue::NUL; ok = literal("null"); break;
            default: {
                // strtod accepts more than JSON (hex, inf); the data is machine-written, so this is lenient enough
                char * num_end = nullptr;
                v.type = JsonValue::NUMBER;
                v.number = strtod(p, &num_end);
                if (num_end == p || num_end > end) {
                    ok = fail("invalid value");
                } else {
                    p = num_end;
                }
            }
        }
        --depth;
        return ok;
    }
};

} // namespace

bool json_parse(const std::string & text, JsonValue & out, std::string & error) {
    Parser ps{text.c_str(), text.c_str(), text.c_str() + text.size(), {}};
    out = JsonValue();
    if (!ps.value(out)) {
        error = ps.err;
        return false;
    }
    ps.ws();
    if (ps.p != ps.end) {
        error = "trailing characters at offset " + std::to_string(ps.p - ps.begin);
        return false;
    }
    return true;
}

} // namespace prism
