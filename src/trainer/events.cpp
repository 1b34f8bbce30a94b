#include "events.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <unistd.h>

namespace prism {

std::string json_escape(const std::string & s) {
    std::string out;
    out.reserve(s.size() + 2);
    for (unsigned char c : s) {
        switch (c) {
            case '"':  out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    snprintf(buf, sizeof(buf), "\\u%04x", c);
                    out += buf;
                } else {
                    out += (char) c;
                }
        }
    }
    return out;
}

Event::Event(const char * name) {
    line = std::string("{\"v\":1,\"event\":\"") + name + "\"";
}

Event & Event::str(const char * key, const std::string & value) {
    line += std::string(",\"") + key + "\":\"" + json_escape(value) + "\"";
    return *this;
}

Event & Event::num(const char * key, double value) {
    if (!std::isfinite(value)) {
        return null(key);
    }
    char buf[64];
    snprintf(buf, sizeof(buf), "%.6g", value);
    line += std::string(",\"") + key + "\":" + buf;
    return *this;
}

Event & Event::integer(const char * key, int64_t value) {
    line += std::string(",\"") + key + "\":" + std::to_string(value);
    return *this;
}

Event & Event::boolean(const char * key, bool value) {
    line += std::string(",\"") + key + "\":" + (value ? "true" : "false");
    return *this;
}

Event & Event::null(const char * key) {
    line += std::string(",\"") + key + "\":null";
    return *this;
}

Event & Event::raw(const char * key, const std::string & json) {
    line += std::string(",\"") + key + "\":" + json;
    return *this;
}

void Event::emit() {
    line += "}\n";
    // One write per line keeps lines whole even if stderr output interleaves on a shared terminal.
    fwrite(line.data(), 1, line.size(), stdout);
    fflush(stdout);
}

static std::mutex g_cleanup_mutex;
static std::set<std::string> g_cleanups;

void register_cleanup(const std::string & path) {
    std::lock_guard<std::mutex> lock(g_cleanup_mutex);
    g_cleanups.insert(path);
}

void unregister_cleanup(const std::string & path) {
    std::lock_guard<std::mutex> lock(g_cleanup_mutex);
    g_cleanups.erase(path);
}

void run_cleanups() {
    std::lock_guard<std::mutex> lock(g_cleanup_mutex);
    for (const auto & p : g_cleanups) {
        unlink(p.c_str());
    }
    g_cleanups.clear();
}

void fail(int exit_code, const std::string & code, const std::string & message) {
    run_cleanups();
    Event("error").str("code", code).str("message", message).integer("exitCode", exit_code).emit();
    // _exit: llama/ggml objects may be mid-use on this stack; their destructors must not run.
    fflush(stderr);
    _exit(exit_code);
}

} // namespace prism
