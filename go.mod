module ircish

go 1.26.8
