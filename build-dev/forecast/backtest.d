build-dev/forecast/backtest.o: forecast/backtest.c forecast/forecast.h \
 history/history.h util/resource.h util/error.h
forecast/forecast.h:
history/history.h:
util/resource.h:
util/error.h:
