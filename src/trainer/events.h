// JSON-lines events on stdout: the only thing prism-trainer writes there (llama.cpp logs go to stderr).
// Every line is one object with "v":1 and "event"; the schema is documented in README.md.
#pragma once

#include <cstdint>
#include <string>

namespace prism {

// Exit codes (docs/trainer.md §10). The host maps them to error codes; keep them stable.
enum ExitCode : int {
    EXIT_OK        = 0,
    EXIT_USAGE     = 2,   // bad or unsupported option
    EXIT_DATA      = 3,   // invalid input data
    EXIT_MODEL     = 4,   // base model or initial adapter failed to load
    EXIT_CHECK     = 5,   // `check` failed: library mismatch, missing symbol, patch probe failed
    EXIT_TRAIN     = 6,   // training failed: non-finite loss, adapter did not move, write failed
    EXIT_CPU       = 7,   // this CPU lacks the instruction sets the build targets (cpu_check.cpp)
    EXIT_SIGINT    = 130,
    EXIT_SIGTERM   = 143,
};

// Builds one event line. Numbers that are not finite are written as null, so every line is valid JSON.
class Event {
public:
    explicit Event(const char * name);
    Event & str(const char * key, const std::string & value);
    Event & num(const char * key, double value);
    Event & integer(const char * key, int64_t value);
    Event & boolean(const char * key, bool value);
    Event & null(const char * key);
    Event & raw(const char * key, const std::string & json); // value already encoded as JSON
    void emit(); // writes the line and flushes, so the host sees progress immediately

private:
    std::string line;
};

std::string json_escape(const std::string & s);

// Emits {"event":"error",code,message} and exits with `exit_code`. Registered cleanups run first.
[[noreturn]] void fail(int exit_code, const std::string & code, const std::string & message);

// Files to delete when the process fails or is cancelled (partial outputs).
void register_cleanup(const std::string & path);
void unregister_cleanup(const std::string & path);
void run_cleanups();

} // namespace prism
