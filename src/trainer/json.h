// Minimal JSON reader for the training data lines (one object per line). It is small on purpose: the trainer
// must not depend on anything but llama.cpp, and the input schema is tiny (docs/trainer.md §10).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace prism {

struct JsonValue {
    enum Type { NUL, BOOL, NUMBER, STRING, ARRAY, OBJECT } type = NUL;
    bool boolean = false;
    double number = 0.0;
    std::string string;
    std::vector<JsonValue> items;                          // ARRAY
    std::vector<std::pair<std::string, JsonValue>> fields; // OBJECT, in input order

    const JsonValue * get(const char * key) const; // OBJECT field or nullptr
};

// Parses one complete JSON document. On error returns false and sets `error` (with the byte offset).
bool json_parse(const std::string & text, JsonValue & out, std::string & error);

} // namespace prism
