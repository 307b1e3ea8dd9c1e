#include <doctest/doctest.h>

#include "agent/util/redact.hpp"

using cs231n::util::redact_credentials;

TEST_SUITE("util::redact_credentials") {
  TEST_CASE("user info, a token as the user name included, is hidden") {
    CHECK(redact_credentials("https://alice:s3cret@example.com/data.zip") == "https://***@example.com/data.zip");
    CHECK(redact_credentials("https://ghp_abc123@github.com/course/a.git") == "https://***@github.com/course/a.git");
    CHECK(redact_credentials("http://u:p@127.0.0.1:8080") == "http://***@127.0.0.1:8080");
  }

  TEST_CASE("secret query parameters keep their names, lose their values") {
    CHECK(redact_credentials("https://h/f.npz?token=abc") == "https://h/f.npz?token=***");
    CHECK(redact_credentials("https://h/f?x=1&token=abc&y=2") == "https://h/f?x=1&token=***&y=2");
    CHECK(redact_credentials("https://acct.blob.core.windows.net/c/f?sv=2020&se=2030&sig=AbC%2B==") ==
          "https://acct.blob.core.windows.net/c/f?sv=2020&se=2030&sig=***");
    CHECK(redact_credentials("https://s3/b/o?X-Amz-Credential=AK/1&X-Amz-Signature=ff&X-Amz-Date=1") ==
          "https://s3/b/o?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Date=1");
    CHECK(redact_credentials("https://h/f?access_token=a&API_KEY=b&key=c#part") ==
          "https://h/f?access_token=***&API_KEY=***&key=***#part");
  }

  TEST_CASE("URLs inside messages and command lines are found; the rest is untouched") {
    CHECK(redact_credentials("$ git clone -- https://tok@github.com/x.git /home/s/x") ==
          "$ git clone -- https://***@github.com/x.git /home/s/x");
    CHECK(redact_credentials("https://h/a?token=1: HTTP 404, then \"https://u:p@h/b\"") ==
          "https://h/a?token=***: HTTP 404, then \"https://***@h/b\"");
    CHECK(redact_credentials("git+https://u:p@h/r.git") == "git+https://***@h/r.git");
  }

  TEST_CASE("text without credentials is returned as it is") {
    for (const char* text : {"", "no url here", "https://cs231n.stanford.edu/coco_captioning.zip",
                             "https://h/f?name=token&size=3", "mail me at a@b.c", "https://h/p@x/y", "://"}) {
      CHECK(redact_credentials(text) == text);
    }
  }
}
