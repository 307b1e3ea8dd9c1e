#pragma once

#include <memory>
#include <string>
#include <tuple>

#include <curl/curl.h>

// libcurl's handles as owning pointers, so that no return path leaks one.
namespace cs231n::net {

struct CurlEasyCleanup {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct CurlMultiCleanup {
  void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
struct CurlListFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

using CurlEasy = std::unique_ptr<CURL, CurlEasyCleanup>;
using CurlMulti = std::unique_ptr<CURLM, CurlMultiCleanup>;
using CurlList = std::unique_ptr<curl_slist, CurlListFree>;

inline CurlEasy make_curl_easy() { return CurlEasy(curl_easy_init()); }
inline CurlMulti make_curl_multi() { return CurlMulti(curl_multi_init()); }

// Appends a line ("Name: value") to a header list; the list stays whole if appending fails.
inline void append_header(CurlList& list, const std::string& line) {
  if (curl_slist* grown = curl_slist_append(list.get(), line.c_str())) {
    std::ignore = list.release();
    list.reset(grown);
  }
}

// An easy handle added to a multi handle, removed again when this goes away (before either
// handle is cleaned up: declare it after both).
class MultiMembership {
 public:
  MultiMembership(CURLM* multi, CURL* easy) : m_multi(multi), m_easy(easy) { curl_multi_add_handle(m_multi, m_easy); }
  ~MultiMembership() { curl_multi_remove_handle(m_multi, m_easy); }
  MultiMembership(const MultiMembership&) = delete;
  MultiMembership& operator=(const MultiMembership&) = delete;

 private:
  CURLM* m_multi;
  CURL* m_easy;
};

}  // namespace cs231n::net
