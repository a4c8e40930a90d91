build-dev/tests/unit/test_store_diff.o: tests/unit/test_store_diff.c \
 plans/diff.h
plans/diff.h:
